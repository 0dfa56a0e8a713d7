// The workload opt-in reconciler's act step: when the route + status plan says the workload must
// carry the sidecar (it would be routed and its pod template lacks the label), add
// `detour.dev/inject: "true"` to the pod template (one rollout). The decision is planIntercept's.

import { INJECT_LABEL } from '../../core/constants.js';
import type { Logger } from '../../core/logging.js';
import { MERGE_PATCH, resourcePath, type KubeClient } from '../../core/kube/client.js';
import { formatWorkload, WORKLOAD_PLURALS, type WorkloadRef } from '../../core/workload-ref.js';

export async function ensureOptedIn(d: { client: KubeClient; logger: Logger }, intercept: string, w: WorkloadRef): Promise<void> {
  await d.client.request('PATCH', resourcePath('apps', 'v1', WORKLOAD_PLURALS[w.kind], w.namespace, w.name), {
    contentType: MERGE_PATCH,
    body: { spec: { template: { metadata: { labels: { [INJECT_LABEL]: 'true' } } } } },
  });
  d.logger.info({ intercept, workload: formatWorkload(w) }, 'Opted workload in to sidecar injection');
}
