// The operator's informers on InterceptPolicy and ClusterInterceptPolicy (I/O). A policy event
// re-queues the Intercepts it can affect: those of its namespace (InterceptPolicy) or all of them
// (ClusterInterceptPolicy; policies change rarely). When the CRDs are not installed no policy can
// exist: the informers are not started and nothing is enforced (logged once); install the chart's
// CRDs and restart the operator to start enforcing.

import { API_GROUP, API_VERSION } from '../../core/constants.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import { CLUSTER_INTERCEPT_POLICY_PLURAL, INTERCEPT_POLICY_PLURAL, type PolicyObject } from '../../core/policy/types.js';
import { Informer, type InformerOptions } from '../runtime/informer.js';
import { NAMESPACE_INDEX, namespaceIndexers } from './enqueue.js';
import type { PolicyGathered } from './policy.js';

export interface PolicyInformersOptions extends Pick<InformerOptions<PolicyObject>, 'client' | 'logger' | 'resyncMs' | 'staleAfterMs'> {
  client: KubeClient;
  /** A namespaced policy changed (its namespace), or a cluster policy (undefined: every namespace). */
  onChange: (namespace: string | undefined) => void;
}

export class PolicyInformers {
  private namespaced?: Informer<PolicyObject>;
  private clusterWide?: Informer<PolicyObject>;
  private stopped = false;
  private synced?: Promise<void>;

  constructor(private readonly o: PolicyInformersOptions) {}

  /** As a controller source: start() begins startAndSync, waitForSync() awaits it. */
  start(): void {
    this.synced ??= this.startAndSync();
  }

  waitForSync(): Promise<void> {
    this.start();
    return this.synced!;
  }

  /** Starts the informers when the policy kinds are served, and waits for their first list. */
  async startAndSync(): Promise<void> {
    const served = await this.o.client.request<{ resources?: Array<{ name: string }> }>('GET', `/apis/${API_GROUP}/${API_VERSION}`).then(
      (r) => new Set((r.resources ?? []).map((x) => x.name)),
      () => new Set<string>(),
    );
    if (this.stopped) return;
    if (!served.has(INTERCEPT_POLICY_PLURAL) || !served.has(CLUSTER_INTERCEPT_POLICY_PLURAL)) {
      this.o.logger.warn(`The ${INTERCEPT_POLICY_PLURAL} and ${CLUSTER_INTERCEPT_POLICY_PLURAL} CRDs are not installed: no InterceptPolicy can exist, none is enforced`);
      return;
    }
    const common = { client: this.o.client, logger: this.o.logger, ...(this.o.resyncMs !== undefined ? { resyncMs: this.o.resyncMs } : {}), ...(this.o.staleAfterMs !== undefined ? { staleAfterMs: this.o.staleAfterMs } : {}) };
    const onNs = (p: PolicyObject) => this.o.onChange(p.metadata.namespace ?? '');
    const onCluster = () => this.o.onChange(undefined);
    this.namespaced = new Informer<PolicyObject>({
      ...common, name: INTERCEPT_POLICY_PLURAL, path: resourcePath(API_GROUP, API_VERSION, INTERCEPT_POLICY_PLURAL), indexers: namespaceIndexers,
      handlers: { onAdd: onNs, onUpdate: (_o, p) => onNs(p), onDelete: onNs },
    });
    this.clusterWide = new Informer<PolicyObject>({
      ...common, name: CLUSTER_INTERCEPT_POLICY_PLURAL, path: resourcePath(API_GROUP, API_VERSION, CLUSTER_INTERCEPT_POLICY_PLURAL),
      handlers: { onAdd: onCluster, onUpdate: onCluster, onDelete: onCluster },
    });
    this.namespaced.start();
    this.clusterWide.start();
    await Promise.all([this.namespaced.waitForSync(), this.clusterWide.waitForSync()]);
  }

  /** What planPolicyVerdict needs for one Intercept; the namespace's labels only when a policy selects by them. */
  async gather(namespace: string, workloadLabels: Record<string, string> | undefined): Promise<PolicyGathered> {
    const namespaced = this.namespaced?.byIndex(NAMESPACE_INDEX, namespace) ?? [];
    const clusterWide = this.clusterWide?.list() ?? [];
    let namespaceLabels: Record<string, string> | undefined;
    if (clusterWide.some((p) => p.spec.namespaceSelector !== undefined)) {
      const ns = await this.o.client.request<{ metadata?: { labels?: Record<string, string> } }>('GET', resourcePath('', 'v1', 'namespaces', undefined, namespace));
      namespaceLabels = ns.metadata?.labels ?? {};
    }
    return { namespaced, clusterWide, ...(workloadLabels ? { workloadLabels } : {}), ...(namespaceLabels ? { namespaceLabels } : {}) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.namespaced?.stop(), this.clusterWide?.stop()]);
  }
}
