import { describe, expect, it } from '@jest/globals';
import { EnvError } from '../core/env.js';
import { buildInjectionConfig } from './config.js';
import { readWebhookSettings } from './settings.js';

/** The problems readWebhookSettings names, or [] when it accepts `env`. */
function problems(env: Record<string, string | undefined>): readonly string[] {
  try { readWebhookSettings(env); return []; } catch (err) {
    if (err instanceof EnvError) return err.problems;
    throw err;
  }
}

describe('readWebhookSettings', () => {
  it('has the documented defaults', () => {
    expect(readWebhookSettings({})).toEqual({
      port: 9443, metricsPort: 9090, host: '0.0.0.0', logLevel: 'info', certificateSource: 'files',
      tlsCertPath: '/etc/detour/tls/tls.crt', tlsKeyPath: '/etc/detour/tls/tls.key', tlsCaPath: '/etc/detour/tls/ca.crt',
      injection: buildInjectionConfig(),
    });
  });

  it('reads what the chart sets', () => {
    const s = readWebhookSettings({
      DETOUR_WEBHOOK_PORT: '8443', DETOUR_CERT_SOURCE: 'files', DETOUR_TLS_DIR: '/tls', DETOUR_LOG_LEVEL: 'debug',
      DETOUR_SIDECAR_IMAGE: 'img:1', DETOUR_SIDECAR_IMAGE_PULL_POLICY: 'Never', DETOUR_SIDECAR_ARGS: '["sidecar","-v"]',
      DETOUR_SIDECAR_RESOURCES: '{"limits":{"memory":"64Mi"}}', DETOUR_SIDECAR_LOG_LEVEL: 'warn',
      DETOUR_SIDECAR_LIMITS: '{"maxConnections":256}', DETOUR_PORT_NAMES: 'http, web', DETOUR_NATIVE_SIDECAR: 'false',
      DETOUR_SYSTEM_NAMESPACES: 'kube-system',
    });
    expect(s).toMatchObject({ port: 8443, logLevel: 'debug', tlsCertPath: '/tls/tls.crt' });
    expect(s.injection).toMatchObject({
      sidecarImage: 'img:1', sidecarImagePullPolicy: 'Never', sidecarArgs: ['sidecar', '-v'], sidecarResources: { limits: { memory: '64Mi' } },
      sidecarLogLevel: 'warn', sidecarLimits: { maxConnections: 256 }, portNames: ['http', 'web'], nativeSidecar: false, systemNamespaces: ['kube-system'],
    });
  });

  it.each([
    [{ DETOUR_WEBHOOK_PORT: '99999' }, /DETOUR_WEBHOOK_PORT must be a port number, got "99999"/],
    [{ DETOUR_CERT_SOURCE: 'self' }, /DETOUR_CERT_SOURCE=self is no longer supported: the operator's certificate manager/],
    [{ DETOUR_CERT_SOURCE: 'vault' }, /DETOUR_CERT_SOURCE must be files, got "vault"/],
    [{ DETOUR_LOG_LEVEL: 'loud' }, /DETOUR_LOG_LEVEL must be one of trace, debug/],
    [{ DETOUR_SIDECAR_LOG_LEVEL: 'loud' }, /DETOUR_SIDECAR_LOG_LEVEL must be one of/],
    [{ DETOUR_SIDECAR_IMAGE_PULL_POLICY: 'Sometimes' }, /DETOUR_SIDECAR_IMAGE_PULL_POLICY must be one of Always, IfNotPresent, Never/],
    [{ DETOUR_SIDECAR_COMMAND: '["a", 1]' }, /DETOUR_SIDECAR_COMMAND must be a JSON array of strings/],
    [{ DETOUR_IPTABLES_COMMAND: '[' }, /DETOUR_IPTABLES_COMMAND must be JSON/],
    [{ DETOUR_SIDECAR_RESOURCES: '[]' }, /DETOUR_SIDECAR_RESOURCES must be a JSON object/],
    [{ DETOUR_SIDECAR_LIMITS: 'nope' }, /DETOUR_SIDECAR_LIMITS must be a JSON object/],
    [{ DETOUR_SIDECAR_LIMITS: '{"maxConections":1}' }, /unknown limit "maxConections"/],
    [{ DETOUR_NATIVE_SIDECAR: 'yes' }, /DETOUR_NATIVE_SIDECAR must be true or false, got "yes"/],
  ])('refuses %j with a reason', (env, message) => {
    expect(problems(env).join('\n')).toMatch(message);
  });

  it('names every bad setting in one error', () => {
    expect(problems({ DETOUR_WEBHOOK_PORT: 'x', DETOUR_METRICS_PORT: 'y', DETOUR_NATIVE_SIDECAR: 'maybe' }).map((p) => p.split(' ')[0]))
      .toEqual(['DETOUR_NATIVE_SIDECAR', 'DETOUR_WEBHOOK_PORT', 'DETOUR_METRICS_PORT']);
  });
});
