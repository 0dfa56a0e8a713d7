// Reads the webhook's settings from an environment record (main.ts passes process.env). Pure.

import { SIDECAR_LIMIT_ENV, type SidecarLimits } from '../core/sidecar-config.js';
import { WEBHOOK_METRICS_PORT, WEBHOOK_PORT } from '../core/constants.js';
import { buildInjectionConfig, type InjectionConfig } from './config.js';

/**
 * - `files` (default): serve the certificate mounted from the Secret that the operator's certificate
 *   manager (chart value certificates.manager=detour) or cert-manager writes; reload on change.
 * - `self`: run the certificate manager in this process (standalone installs, development); needs
 *   RBAC on the Secrets and the MutatingWebhookConfiguration.
 */
export type CertificateSource = 'files' | 'self';

export interface WebhookSettings {
  port: number;
  metricsPort: number;
  host: string;
  logLevel: string;
  certificateSource: CertificateSource;
  tlsCertPath: string;
  tlsKeyPath: string;
  /** The serving Secret's ca.crt: handed to injected sidecars to verify the operator (control channel). */
  tlsCaPath: string;
  /** For `self`. */
  namespace: string;
  secretName: string;
  webhookConfigName: string;
  serviceName: string;
  injection: InjectionConfig;
}

export type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${v}"`);
  return n;
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

function jsonArray(env: Env, name: string): string[] | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const parsed: unknown = JSON.parse(v);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`${name} must be a JSON array of strings`);
  return parsed as string[];
}

function bool(env: Env, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new Error(`${name} must be true or false, got "${v}"`);
}

/** `DETOUR_SIDECAR_LIMITS`: a JSON object of SidecarLimits keys to non-negative integers (chart `sidecar.limits`). */
export function parseSidecarLimits(text: string): Partial<SidecarLimits> {
  const parsed: unknown = JSON.parse(text);
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
  const source = env.DETOUR_CERT_SOURCE ?? 'files';
  if (source !== 'files' && source !== 'self') throw new Error(`DETOUR_CERT_SOURCE must be files or self, got "${source}"`);
  const tlsDir = env.DETOUR_TLS_DIR ?? '/etc/detour/tls';
  const overrides: Partial<InjectionConfig> = {};
  if (env.DETOUR_SIDECAR_IMAGE) overrides.sidecarImage = env.DETOUR_SIDECAR_IMAGE;
  const pull = env.DETOUR_SIDECAR_IMAGE_PULL_POLICY;
  if (pull === 'Always' || pull === 'IfNotPresent' || pull === 'Never') overrides.sidecarImagePullPolicy = pull;
  const command = jsonArray(env, 'DETOUR_SIDECAR_COMMAND');
  if (command) overrides.sidecarCommand = command;
  const args = jsonArray(env, 'DETOUR_SIDECAR_ARGS');
  if (args) overrides.sidecarArgs = args;
  if (env.DETOUR_SIDECAR_RESOURCES) overrides.sidecarResources = JSON.parse(env.DETOUR_SIDECAR_RESOURCES) as InjectionConfig['sidecarResources'];
  if (env.DETOUR_OPERATOR_URL) overrides.operatorUrl = env.DETOUR_OPERATOR_URL;
  if (env.DETOUR_SIDECAR_LOG_LEVEL) overrides.sidecarLogLevel = env.DETOUR_SIDECAR_LOG_LEVEL;
  if (env.DETOUR_SIDECAR_LIMITS) overrides.sidecarLimits = parseSidecarLimits(env.DETOUR_SIDECAR_LIMITS);
  const portNames = list(env.DETOUR_PORT_NAMES);
  if (portNames) overrides.portNames = portNames;
  const native = bool(env, 'DETOUR_NATIVE_SIDECAR');
  if (native !== undefined) overrides.nativeSidecar = native;
  if (env.DETOUR_IPTABLES_IMAGE) overrides.iptablesImage = env.DETOUR_IPTABLES_IMAGE;
  const iptablesCommand = jsonArray(env, 'DETOUR_IPTABLES_COMMAND');
  if (iptablesCommand) overrides.iptablesCommand = iptablesCommand;
  const systemNamespaces = list(env.DETOUR_SYSTEM_NAMESPACES);
  if (systemNamespaces) overrides.systemNamespaces = systemNamespaces;
  return {
    port: int(env, 'DETOUR_WEBHOOK_PORT', WEBHOOK_PORT),
    metricsPort: int(env, 'DETOUR_METRICS_PORT', WEBHOOK_METRICS_PORT),
    host: env.DETOUR_LISTEN_HOST ?? '0.0.0.0',
    logLevel: env.DETOUR_LOG_LEVEL ?? 'info',
    certificateSource: source,
    tlsCertPath: `${tlsDir}/tls.crt`,
    tlsKeyPath: `${tlsDir}/tls.key`,
    tlsCaPath: `${tlsDir}/ca.crt`,
    namespace: env.POD_NAMESPACE ?? 'detour-system',
    secretName: env.DETOUR_WEBHOOK_SECRET ?? 'detour-webhook-tls',
    webhookConfigName: env.DETOUR_WEBHOOK_CONFIGURATION ?? 'detour',
    serviceName: env.DETOUR_WEBHOOK_SERVICE ?? 'detour-webhook',
    injection: buildInjectionConfig(overrides),
  };
}
