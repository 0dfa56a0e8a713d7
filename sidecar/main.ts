// Entry point of the sidecar container: the only place that reads process.env, builds the logger,
// the metrics registry and the clock, and handles signals.

import { readFile } from 'node:fs/promises';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import { SIDECAR_ENV } from '../core/sidecar-config.js';
import { EnvError } from '../core/env.js';
import { readSidecarSettings, type SidecarConfig } from './config.js';
import { buildSidecar } from './sidecar.js';

async function main(): Promise<void> {
  let config: SidecarConfig;
  try { config = readSidecarSettings(process.env); } catch (err) {
    if (!(err instanceof EnvError)) throw err;
    const logger = buildLogger({ name: 'detour-sidecar' });
    for (const e of err.problems) logger.error(e);
    logger.fatal('Refused to start: invalid configuration');
    process.exit(2);
  }
  const logger = buildLogger({ name: 'detour-sidecar', level: config.logLevel });
  if (config.notInterceptable !== undefined) logger.warn({ workload: config.notInterceptable }, `Serving pass-through without the operator: ${config.notInterceptable} is not a kind an Intercept can target (Deployment, StatefulSet, ReplicaSet)`);
  else if (config.operatorUrl === undefined) logger.warn('No operator URL configured; serving pass-through until a table arrives');
  else if (config.operatorUrl.startsWith('ws://')) logger.warn({ url: config.operatorUrl }, 'The operator control channel is not encrypted (ws://): tables and reports travel in plaintext and the operator is not authenticated');
  // Never take the pod down: with no port to take over (a numeric port without the iptables
  // opt-in) the sidecar idles, Ready, and the app keeps receiving its traffic directly.
  if (config.ports.length === 0) logger.warn(`Took over no port (${SIDECAR_ENV.ports} is empty): idling; the app receives its traffic directly. Name the container port (http) or opt in with detour.dev/iptables`);
  const sidecar = buildSidecar({
    podName: config.podName,
    workload: config.workload,
    ports: config.ports,
    appHost: config.appHost,
    bindHost: config.bindHost,
    tunnelPort: config.tunnelPort,
    adminPort: config.adminPort,
    limits: config.limits,
    control: config.operatorUrl === undefined ? undefined : {
      url: config.operatorUrl,
      readToken: () => readFile(config.tokenPath, 'utf8'),
      // wss://: the operator's certificate must chain to the injected bundle (old and new CA
      // during a rotation); ws:// ignores it.
      ...(config.operatorCa !== undefined ? { webSocketOptions: { ca: config.operatorCa } } : {}),
    },
    logger,
    registry: buildRegistry(),
    now: () => Date.now(),
  });
  await sidecar.start();

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Stopping sidecar');
    sidecar.stop().then(() => process.exit(0), () => process.exit(1));
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const logger = buildLogger({ name: 'detour-sidecar' });
  logger.fatal({ reason: err instanceof Error ? err.message : String(err) }, 'Sidecar failed to start');
  process.exit(1);
});
