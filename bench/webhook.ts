// Item 4: admission latency of the real webhook against a no-op responder on the same TLS stack.
// Real AdmissionReviews (a Deployment's pod with a named port and a probe, opted in) POSTed over
// keep-alive HTTPS at a fixed rate, as the API server does; rounds alternate the two servers.

import { goalAtMost, figureList, type SectionResult } from './figures.js';
import { fixedRate, keepAliveAgent, timedRequest, type Target } from './load.js';
import type { BenchPlan } from './plan.js';
import { startRole } from './processes.js';
import { percentile, ratioOf, summarize } from './stats.js';

function admissionReview(i: number): Buffer {
  return Buffer.from(JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: `b3f1c0de-0000-4000-8000-${String(i).padStart(12, '0')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'shop', operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: {
        apiVersion: 'v1', kind: 'Pod',
        metadata: {
          generateName: 'checkout-5d8c9f-', namespace: 'shop',
          labels: { app: 'checkout', 'detour.dev/inject': 'true', 'pod-template-hash': '5d8c9f' },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-5d8c9f', uid: '0b6f6a34-1111-4c1e-9d36-2f1e6f9a1a11', controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          serviceAccountName: 'default',
          containers: [{
            name: 'checkout', image: 'registry.example/checkout:1.4.2',
            ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
            env: [{ name: 'LOG_LEVEL', value: 'info' }],
            readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
            livenessProbe: { httpGet: { path: '/live', port: 'http' }, periodSeconds: 10 },
            resources: { requests: { cpu: '100m', memory: '128Mi' } },
            volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
          }],
          volumes: [{ name: 'kube-api-access-abcde', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
        },
      },
      oldObject: null, dryRun: false, options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  }));
}

export async function benchWebhook(plan: BenchPlan, log: (l: string) => void): Promise<SectionResult> {
  const section = '4 webhook';
  const servers = await startRole<{ real: number; noop: number }>('webhook', {}, { timeoutMs: 60_000 });
  try {
    type Name = 'real' | 'noop';
    const body = admissionReview(1);
    const target = (n: Name): Target => ({ host: '127.0.0.1', port: servers.info[n], path: '/mutate', method: 'POST', tls: true, body, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
    // Check the real one really injects.
    const agent0 = keepAliveAgent(true, 4);
    const check = await timedRequest(target('real'), agent0);
    const patch = (JSON.parse(check.body.toString()) as { response?: { patch?: string } }).response?.patch;
    agent0.destroy();
    if (check.status !== 200 || !patch) throw new Error(`the webhook did not inject (status ${check.status})`);
    for (const n of ['real', 'noop'] as Name[]) { const a = keepAliveAgent(true, 8); await fixedRate(target(n), plan.webhookRate, 1000, a); a.destroy(); } // warm-up
    const m = { real: { p50: [] as number[], p99: [] as number[], errors: 0 }, noop: { p50: [] as number[], p99: [] as number[], errors: 0 } };
    for (let round = 0; round < plan.rounds; round++) {
      const order: Name[] = round % 2 === 0 ? ['real', 'noop'] : ['noop', 'real'];
      for (const n of order) {
        const agent = keepAliveAgent(true, 16);
        const r = await fixedRate(target(n), plan.webhookRate, plan.latencySeconds * 1000, agent);
        agent.destroy();
        m[n].p50.push(percentile(r.latenciesMs, 50));
        m[n].p99.push(percentile(r.latenciesMs, 99));
        m[n].errors += r.errors;
      }
      log(`  webhook round ${round + 1}/${plan.rounds}: real p50 ${m.real.p50[round]!.toFixed(2)} p99 ${m.real.p99[round]!.toFixed(2)} ms; no-op p50 ${m.noop.p50[round]!.toFixed(2)} p99 ${m.noop.p99[round]!.toFixed(2)} ms`);
    }
    const { figures, add } = figureList(section);
    add('webhook p50', summarize(m.real.p50), 'ms', `${plan.webhookRate} AdmissionReviews/s, keep-alive HTTPS, ${body.length} B body`);
    add('webhook p99', summarize(m.real.p99), 'ms');
    add('no-op p50', summarize(m.noop.p50), 'ms');
    add('no-op p99', summarize(m.noop.p99), 'ms');
    add('p50: webhook / no-op', ratioOf(m.real.p50, m.noop.p50), 'x');
    const p99 = ratioOf(m.real.p99, m.noop.p99);
    add('p99: webhook / no-op', p99, 'x', undefined, goalAtMost(p99.median, 2));
    return { section, figures, notes: [`errors: webhook ${m.real.errors}, no-op ${m.noop.errors}`], raw: m };
  } finally {
    await servers.stop();
  }
}
