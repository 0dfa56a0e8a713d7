// Kubernetes Events (core/v1) about Intercepts. Failures to record are logged, never thrown.

import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logging.js';
import { describeApiError } from '../core/errors.js';
import { resourcePath, type KubeClient } from '../core/kube/client.js';
import type { PlannedEvent } from './reconcile/plan.js';

/** The object an Event is about: an Intercept, or a pod the operator has something to say about. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export type EventRecorder = (i: InvolvedObject, e: PlannedEvent) => Promise<void>;

export function buildEventRecorder(client: KubeClient, identity: string, logger: Logger): EventRecorder {
  return async (i, e) => {
    const now = new Date().toISOString();
    const ns = i.metadata.namespace;
    try {
      await client.request('POST', resourcePath('', 'v1', 'events', ns), {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${i.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
          involvedObject: { apiVersion: i.apiVersion, kind: i.kind, name: i.metadata.name, namespace: ns, uid: i.metadata.uid, resourceVersion: i.metadata.resourceVersion },
          type: e.type,
          reason: e.reason,
          message: e.message,
          source: { component: 'detour-operator' },
          reportingComponent: 'detour.dev/operator',
          reportingInstance: identity,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      logger.warn({ object: `${i.kind} ${ns}/${i.metadata.name}`, event: e.reason, ...describeApiError(err) }, 'Failed to record an event');
    }
  };
}
