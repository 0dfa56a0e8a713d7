// What the leader runs for Intercepts, one leadership term at a time: a new epoch for the control
// hub (so sidecars can refuse a deposed leader's tables), the Intercept controller, and the tables
// published only after the first pass reconciled every Intercept (a failover never pushes a table
// missing routes). When the term ends the replica stops being Ready and sidecar connections close
// with 1012, so they reconnect to the new leader through the Service.

import { randomBytes } from 'node:crypto';
import type { Intercept } from '../core/api/intercept.js';
import { buildEpoch } from '../core/routing/table.js';
import { untilAborted } from './runtime/controller.js';
import type { LeaderRunnable } from './runtime/manager.js';
import { buildInterceptController, INTERCEPT_CONTROLLER, type InterceptController, type InterceptControllerDeps } from './reconcile/intercept-controller.js';

export interface InterceptRunnable extends LeaderRunnable {
  /** Leading, caches synced and the first pass done: the control channel accepts sidecars. */
  ready(): boolean;
  /** The current term's cached Intercepts (none when not leading). */
  intercepts(): Intercept[];
}

export function buildInterceptRunnable(deps: InterceptControllerDeps): InterceptRunnable {
  let current: InterceptController | undefined;
  let ready = false;
  return {
    name: INTERCEPT_CONTROLLER,
    ready: () => ready,
    intercepts: () => current?.intercepts.list() ?? [],
    async run({ signal, term }) {
      const epoch = buildEpoch(term, randomBytes(6).toString('hex'));
      deps.hub.reset(epoch);
      const logger = deps.logger.child({ controller: INTERCEPT_CONTROLLER, epoch });
      const c = buildInterceptController({ ...deps, logger });
      current = c;
      c.controller.start();
      void c.controller.firstPass.then((done) => {
        if (!done || signal.aborted) return;
        deps.hub.startPublishing();
        ready = true;
        logger.info({ intercepts: c.intercepts.size() }, 'Synced caches and reconciled every intercept; serving sidecars');
      });
      await untilAborted(signal);
      ready = false;
      deps.hub.closeAll(1012, 'operator leadership changed');
      await c.controller.stop();
      if (current === c) current = undefined;
    },
  };
}
