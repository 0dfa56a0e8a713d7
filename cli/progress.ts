// Pure: what an Intercept's status means for a developer waiting on it.

import { CONDITION, type Intercept } from '../core/api/intercept.js';
import { findCondition } from '../core/api/conditions.js';
import { formatWorkload } from '../core/workload-ref.js';

export type ProgressState = 'waiting' | 'ready' | 'failed';

export interface Progress {
  state: ProgressState;
  /** What is happening, as one line (`Opting Deployment/checkout in: …`). */
  message: string;
}

/** The Intercept's status as one step of the progress display. */
export function describeProgress(i: Intercept): Progress {
  const s = i.status;
  const ref = formatWorkload(i.spec.workload);
  if (i.metadata.deletionTimestamp) return { state: 'failed', message: `the Intercept ${i.metadata.name} is being deleted` };
  if (!s?.phase || (i.metadata.generation !== undefined && s.observedGeneration !== undefined && s.observedGeneration < i.metadata.generation)) {
    return { state: 'waiting', message: 'Waiting for the Detour operator to pick up the Intercept (is the operator running?)' };
  }
  const routed = findCondition(s.conditions, CONDITION.routed);
  const sidecars = findCondition(s.conditions, CONDITION.sidecarsReady);
  switch (s.phase) {
    case 'Expired':
    case 'Failed':
    case 'Conflict':
      return { state: 'failed', message: `${s.phase}: ${routed?.message ?? 'not routed'}` };
    case 'Waiting':
      return { state: 'waiting', message: `Waiting for ${ref}: ${routed?.message ?? 'the workload does not exist'}` };
    case 'Pending':
    case 'Active': {
      const count = s.sidecars ? ` (${s.sidecars.ready}/${s.sidecars.desired} sidecars ready)` : '';
      let message: string;
      switch (sidecars?.reason) {
        case 'OptingIn': message = `Opting ${ref} in to the Detour sidecar: its pods restart once${count}`; break;
        case 'SidecarMissing': message = `Rolling out ${ref}: ${sidecars.message}`; break;
        case 'SidecarsConnecting': message = `Waiting for sidecars${count}`; break;
        case 'SidecarsConnected': message = `Sidecars ready${count}`; break;
        default: message = `${s.phase}${count}`;
      }
      return { state: s.phase === 'Active' ? 'ready' : 'waiting', message };
    }
  }
}
