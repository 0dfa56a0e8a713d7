import { describe, expect, it } from '@jest/globals';
import { readOperatorSettings } from './settings.js';

describe('readOperatorSettings', () => {
  it('has the documented defaults', () => {
    const s = readOperatorSettings({});
    expect(s).toMatchObject({ logLevel: 'info', identity: undefined, certificateManager: 'self' });
    expect(s.options).toMatchObject({
      leaseNamespace: 'detour-system', leaseName: 'detour-operator', controlPort: 8081, healthPort: 8082, metricsPort: 8080,
      workers: 4, resyncMs: 600_000, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, controlTls: undefined,
    });
    expect(s.options.webhookCertificates).toEqual({
      namespace: 'detour-system', secretName: 'detour-webhook-tls', webhookConfigName: 'detour', serviceName: 'detour-webhook',
      extraDnsNames: ['detour-operator', 'detour-operator.detour-system', 'detour-operator.detour-system.svc', 'detour-operator.detour-system.svc.cluster.local'],
    });
  });

  it.each<[string, Record<string, string>, (s: ReturnType<typeof readOperatorSettings>) => unknown, unknown]>([
    ['POD_NAME is the identity', { POD_NAME: 'op-0' }, (s) => s.identity, 'op-0'],
    ['POD_NAMESPACE holds the Lease and the webhook Secrets', { POD_NAMESPACE: 'dt' }, (s) => [s.options.leaseNamespace, s.options.webhookCertificates?.namespace], ['dt', 'dt']],
    ['the webhook configuration, under the webhook\'s name for it', { DETOUR_WEBHOOK_CONFIGURATION: 'mine' }, (s) => s.options.webhookCertificates?.webhookConfigName, 'mine'],
    ['cert-manager: the operator keeps no certificates', { DETOUR_CERT_MANAGER: 'cert-manager' }, (s) => s.options.webhookCertificates, undefined],
    ['control TLS from the webhook Secret', { DETOUR_CONTROL_TLS: 'true', DETOUR_WEBHOOK_SECRET: 'tls' }, (s) => s.options.controlTls, { namespace: 'detour-system', secretName: 'tls' }],
    ['seconds become milliseconds', { DETOUR_LEASE_DURATION_SECONDS: '30', DETOUR_RENEW_DEADLINE_SECONDS: '20', DETOUR_RETRY_PERIOD_SECONDS: '5', DETOUR_RESYNC_SECONDS: '0' }, (s) => [s.options.leaseDurationMs, s.options.renewDeadlineMs, s.options.retryPeriodMs, s.options.resyncMs], [30_000, 20_000, 5_000, 0]],
    ['fractions of a second', { DETOUR_LEASE_DURATION_SECONDS: '3', DETOUR_RENEW_DEADLINE_SECONDS: '2', DETOUR_RETRY_PERIOD_SECONDS: '0.3' }, (s) => s.options.retryPeriodMs, 300],
    ['ports, 0 for any', { DETOUR_CONTROL_PORT: '0', DETOUR_HEALTH_PORT: '9000', DETOUR_METRICS_PORT: '9001' }, (s) => [s.options.controlPort, s.options.healthPort, s.options.metricsPort], [0, 9000, 9001]],
    ['the log level', { DETOUR_LOG_LEVEL: 'debug' }, (s) => s.logLevel, 'debug'],
  ])('%s', (_name, env, pick, want) => {
    expect(pick(readOperatorSettings(env))).toEqual(want);
  });

  it.each<[string, Record<string, string>, string[]]>([
    ['a port that is not one', { DETOUR_CONTROL_PORT: 'http' }, ['DETOUR_CONTROL_PORT must be a port number']],
    ['an unknown certificate manager', { DETOUR_CERT_MANAGER: 'vault' }, ['DETOUR_CERT_MANAGER must be one of self, cert-manager']],
    ['a control TLS flag that is not a boolean', { DETOUR_CONTROL_TLS: 'yes' }, ['DETOUR_CONTROL_TLS must be true or false']],
    ['the old name of the webhook configuration setting', { DETOUR_WEBHOOK_CONFIG_NAME: 'detour' }, ['DETOUR_WEBHOOK_CONFIG_NAME was renamed DETOUR_WEBHOOK_CONFIGURATION']],
    ['a duration that is not a number of seconds', { DETOUR_RETRY_PERIOD_SECONDS: '2s' }, ['DETOUR_RETRY_PERIOD_SECONDS must be a number of seconds above 0, got "2s"']],
    ['a zero lease duration', { DETOUR_LEASE_DURATION_SECONDS: '0' }, ['DETOUR_LEASE_DURATION_SECONDS must be a number of seconds above 0']],
    ['a renew deadline not shorter than the lease', { DETOUR_LEASE_DURATION_SECONDS: '10', DETOUR_RENEW_DEADLINE_SECONDS: '10' }, ['DETOUR_RENEW_DEADLINE_SECONDS must be less than DETOUR_LEASE_DURATION_SECONDS']],
    ['every problem at once', { DETOUR_WORKERS: '0', DETOUR_LOG_LEVEL: 'loud' }, ['DETOUR_WORKERS must be an integer from 1 to 256', 'DETOUR_LOG_LEVEL must be one of']],
  ])('refuses %s, naming the setting', (_name, env, messages) => {
    let message = '';
    try { readOperatorSettings(env); } catch (err) { message = (err as Error).message; }
    for (const m of messages) expect(message).toContain(m);
  });
});
