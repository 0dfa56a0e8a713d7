// Reads the webhook's settings from an environment record (main.ts passes process.env). Pure; every
// bad setting is named in one error (core/env.ts).

import { readEnv, type Env } from '../core/env.js';
import { LOG_LEVELS, type LogLevel } from '../core/logging.js';
import { SIDECAR_LIMIT_ENV, type SidecarLimits } from '../core/sidecar-config.js';
import { WEBHOOK_METRICS_PORT, WEBHOOK_PORT } from '../core/constants.js';
import { buildInjectionConfig, type InjectionConfig } from './config.js';

/**
 * Where the serving certificate comes from: always the files of the mounted Secret, which the
 * operator's certificate manager (chart value certificates.manager=detour) or cert-manager writes;
 * reloaded on change. Only the operator owns certificates (docs/webhook.md): the webhook's former
 * `self` mode had no user (not the chart, not a test) and is refused with a reason.
 */
export type CertificateSource = 'files';

export interface WebhookSettings {
  port: number;
  metricsPort: number;
  host: string;
  logLevel: LogLevel;
  certificateSource: CertificateSource;
  tlsCertPath: string;
  tlsKeyPath: string;
  /** The serving Secret's ca.crt: handed to injected sidecars to verify the operator (control channel). */
  tlsCaPath: string;
  injection: InjectionConfig;
}

export type { Env };

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/** `DETOUR_SIDECAR_LIMITS`: a JSON object of SidecarLimits keys to non-negative integers (chart `sidecar.limits`). */
export function parseSidecarLimits(text: string): Partial<SidecarLimits> {
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('DETOUR_SIDECAR_LIMITS must be a JSON object');
  const out: Partial<SidecarLimits> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in SIDECAR_LIMIT_ENV)) throw new Error(`DETOUR_SIDECAR_LIMITS: unknown limit "${key}" (known: ${Object.keys(SIDECAR_LIMIT_ENV).join(', ')})`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Error(`DETOUR_SIDECAR_LIMITS: ${key} must be a non-negative integer`);
    out[key as keyof SidecarLimits] = value;
  }
  return out;
}

export function readWebhookSettings(env: Env): WebhookSettings {
  const r = readEnv(env);
  const source = r.optional('DETOUR_CERT_SOURCE');
  if (source === 'self') r.problem('DETOUR_CERT_SOURCE=self is no longer supported: the operator\'s certificate manager (or cert-manager) writes the serving Secret and the webhook reads it from DETOUR_TLS_DIR');
  else if (source !== undefined && source !== 'files') r.problem(`DETOUR_CERT_SOURCE must be files, got ${JSON.stringify(source)}`);
  const tlsDir = r.string('DETOUR_TLS_DIR', '/etc/detour/tls');

  const jsonArray = (name: string): string[] | undefined => {
    const parsed = r.json(name);
    if (parsed === undefined) return undefined;
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) { r.problem(`${name} must be a JSON array of strings`); return undefined; }
    return parsed as string[];
  };

  const overrides: Partial<InjectionConfig> = {};
  const image = r.optional('DETOUR_SIDECAR_IMAGE');
  if (image) overrides.sidecarImage = image;
  if (r.optional('DETOUR_SIDECAR_IMAGE_PULL_POLICY') !== undefined) overrides.sidecarImagePullPolicy = r.oneOf('DETOUR_SIDECAR_IMAGE_PULL_POLICY', PULL_POLICIES, 'IfNotPresent');
  const command = jsonArray('DETOUR_SIDECAR_COMMAND');
  if (command) overrides.sidecarCommand = command;
  const args = jsonArray('DETOUR_SIDECAR_ARGS');
  if (args) overrides.sidecarArgs = args;
  const resources = r.json('DETOUR_SIDECAR_RESOURCES');
  if (resources !== undefined) {
    if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) r.problem('DETOUR_SIDECAR_RESOURCES must be a JSON object ({requests, limits})');
    else overrides.sidecarResources = resources as InjectionConfig['sidecarResources'];
  }
  const operatorUrl = r.optional('DETOUR_OPERATOR_URL');
  if (operatorUrl) overrides.operatorUrl = operatorUrl;
  if (r.optional('DETOUR_SIDECAR_LOG_LEVEL') !== undefined) overrides.sidecarLogLevel = r.oneOf('DETOUR_SIDECAR_LOG_LEVEL', LOG_LEVELS, 'info');
  const limits = r.optional('DETOUR_SIDECAR_LIMITS');
  if (limits) {
    try { overrides.sidecarLimits = parseSidecarLimits(limits); } catch (err) { r.problem((err as Error).message); }
  }
  const portNames = r.list('DETOUR_PORT_NAMES');
  if (portNames) overrides.portNames = portNames;
  if (r.optional('DETOUR_NATIVE_SIDECAR') !== undefined) overrides.nativeSidecar = r.boolean('DETOUR_NATIVE_SIDECAR', true);
  const iptablesImage = r.optional('DETOUR_IPTABLES_IMAGE');
  if (iptablesImage) overrides.iptablesImage = iptablesImage;
  const iptablesCommand = jsonArray('DETOUR_IPTABLES_COMMAND');
  if (iptablesCommand) overrides.iptablesCommand = iptablesCommand;
  const systemNamespaces = r.list('DETOUR_SYSTEM_NAMESPACES');
  if (systemNamespaces) overrides.systemNamespaces = systemNamespaces;

  const settings: WebhookSettings = {
    port: r.port('DETOUR_WEBHOOK_PORT', WEBHOOK_PORT),
    metricsPort: r.port('DETOUR_METRICS_PORT', WEBHOOK_METRICS_PORT),
    host: r.string('DETOUR_LISTEN_HOST', '0.0.0.0'),
    logLevel: r.oneOf('DETOUR_LOG_LEVEL', LOG_LEVELS, 'info'),
    certificateSource: 'files',
    tlsCertPath: `${tlsDir}/tls.crt`,
    tlsKeyPath: `${tlsDir}/tls.key`,
    tlsCaPath: `${tlsDir}/ca.crt`,
    injection: buildInjectionConfig(overrides),
  };
  r.finish();
  return settings;
}
