// The operator's entrypoint: the only file that reads process.env (readOperatorSettings, the
// variables are listed in docs/operator.md). Builds the logger, metrics registry and kube client
// configuration, starts the operator and stops it gracefully on SIGTERM/SIGINT (releasing the
// leader lease so a standby takes over at once).

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import { startOperator } from './operator.js';
import { readOperatorSettings } from './settings.js';

let logger = buildLogger({ name: 'detour-operator', level: 'info' });

async function main(): Promise<void> {
  const settings = readOperatorSettings(process.env);
  logger = buildLogger({ name: 'detour-operator', level: settings.logLevel });
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const operator = await startOperator({
    ...settings.options,
    kubeConfig: kc,
    logger,
    registry: buildRegistry(),
    identity: settings.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`,
  });
  logger.info({ controlPort: operator.controlPort, healthPort: operator.healthPort, metricsPort: operator.metricsPort, certificates: settings.certificateManager }, 'Started operator');
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    operator.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'Failed to start operator');
  process.exit(1);
});
