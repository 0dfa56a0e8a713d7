// Installs the real Helm chart (charts/detour) into the local cluster, the way a user would:
// `helm install`, then waits until the operator leads, the webhook serves and the API server
// actually injects a labelled pod. The CLI end-to-end suites and the demo build on it.
//
//   const detour = await installDetour(kc, { values: { operator: { replicas: 1 } } });
//   detour.namespace; detour.operatorUrl;   // wss://detour-operator.<ns>.svc:8081/control
//   await detour.upgrade({ webhook: { replicas: 2 } });
//   await detour.uninstall();
//
// The test node runs any image whose repository ends in `detour` from the built dist/ folder, so
// `npm run build` must have run. The chart installs cluster-scoped objects (the webhook
// configuration, ClusterRoles) named after the release: one installation per release name at a time.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { ensureControlPlaneBinaries } from './controlplane/binaries.js';
import { SIDECAR_CONTAINER } from '../core/constants.js';
import { deleteNamespace, eventually } from './kube.js';
import { isReady } from './pods.js';

const run = promisify(execFile);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = join(repoRoot, 'charts', 'detour');
export const TEST_IMAGE = { repository: 'ghcr.io/detour-dev/detour', tag: 'test', pullPolicy: 'IfNotPresent' };

export type Values = Record<string, unknown>;

export interface InstallDetourOptions {
  /** Default `detour` (Services `detour-operator`, `detour-webhook`). */
  releaseName?: string;
  /** An existing namespace to install into; default: a new `detour-<random>` that uninstall() deletes. */
  namespace?: string;
  /** Merged over the test defaults (test image, small resources, 2 operator and 1 webhook replicas). */
  values?: Values;
  /**
   * Namespace where a dry-run pod proves that the API server injects (the webhook's caBundle is in
   * place); default `default`. `false` skips the check (e.g. when namespaceSelector excludes it).
   */
  injectionProbeNamespace?: string | false;
  timeoutMs?: number;
  /** The chart to install (default: the working tree's charts/detour); upgrade() always goes to the working tree's. */
  chart?: string;
}

export interface InstalledDetour {
  releaseName: string;
  namespace: string;
  /** The control channel URL the webhook gives sidecars. */
  operatorUrl: string;
  /** The values the release was last installed or upgraded with (defaults included). */
  values: Values;
  /** Runs helm with this cluster's kubeconfig; resolves with stdout. */
  helm(args: string[]): Promise<string>;
  /** `helm upgrade` with `values` merged over the current ones, then waits as install does. */
  upgrade(values: Values): Promise<void>;
  /** `helm rollback` to a revision (values as they were then), then waits as install does. */
  rollback(revision: number, values: Values): Promise<void>;
  /** The operator pods, the Ready one (the leader) first. */
  operatorPods(): Promise<V1Pod[]>;
  /** `helm uninstall --wait`, then deletes the namespace if installDetour created it. */
  uninstall(options?: { keepNamespace?: boolean }): Promise<void>;
}

/** The control channel URL the chart gives sidecars for a release (chart default). */
export function detourOperatorUrl(namespace: string, releaseName = 'detour'): string {
  return `wss://${fullname(releaseName)}-operator.${namespace}.svc:8081/control`;
}

/** The chart's `detour.fullname` (without fullnameOverride/nameOverride). */
export function fullname(releaseName: string): string {
  const name = releaseName.includes('detour') ? releaseName : `${releaseName}-detour`;
  return name.slice(0, 40).replace(/-+$/, '');
}

export const DEFAULT_TEST_VALUES: Values = {
  image: TEST_IMAGE,
  operator: { replicas: 2, resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } } },
  webhook: { replicas: 1, resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '192Mi' } } },
  sidecar: { resources: { requests: { cpu: '5m', memory: '16Mi' }, limits: { memory: '128Mi' } } },
};

const isObject = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge as Helm merges values files: objects merge, everything else (arrays too) replaces. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? mergeValues(out[k], v) : v;
  return out;
}

/** The last lines a container of a test-node pod wrote (diagnostics). */
export function podLogTail(pod: V1Pod, container: string, lines = 20): string {
  const dir = process.env.DETOUR_TEST_CONTROL_PLANE_DIR;
  const file = dir && pod.metadata?.uid ? join(dir, 'node', 'pods', pod.metadata.uid, 'logs', `${container}.log`) : undefined;
  if (!file || !existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function describePods(pods: V1Pod[]): string {
  return pods.map((p) => {
    const states = (p.status?.containerStatuses ?? []).map((c) => `${c.name}: ${c.ready ? 'ready' : 'not ready'} ${Object.keys(c.state ?? {}).join()} restarts=${c.restartCount}`).join('; ');
    const logs = (p.spec?.containers ?? []).map((c) => podLogTail(p, c.name, 8)).filter(Boolean).join('\n');
    const conditions = (p.status?.conditions ?? []).map((c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`).join(' ');
    return `${p.metadata?.name} (${p.status?.phase}; ${conditions}) ${states}${logs ? `\n${logs}` : ''}`;
  }).join('\n');
}

export async function installDetour(kc: KubeConfig, options: InstallDetourOptions = {}): Promise<InstalledDetour> {
  const releaseName = options.releaseName ?? 'detour';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const { helm: helmBinary } = await ensureControlPlaneBinaries(process.env.KUBEBUILDER_ASSETS, () => {});

  // Helm gets its own kubeconfig and homes, so it neither reads nor writes the user's.
  const work = mkdtempSync(join(tmpdir(), 'detour-helm-'));
  const kubeconfig = join(work, 'kubeconfig');
  writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
  const env = { ...process.env, KUBECONFIG: kubeconfig, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config'), HELM_DATA_HOME: join(work, 'data') };
  const helm = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(helmBinary, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`helm ${args.slice(0, 2).join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
    }
  };

  const ownNamespace = options.namespace === undefined;
  const namespace = options.namespace ?? `detour-${randomBytes(3).toString('hex')}`;
  let values = mergeValues(DEFAULT_TEST_VALUES, options.values ?? {});
  const valuesFile = join(work, 'values.json');
  const selector = (component: string) => `app.kubernetes.io/instance=${releaseName},app.kubernetes.io/component=${component}`;
  const replicas = (component: 'operator' | 'webhook') => Number((values[component] as Values | undefined)?.replicas ?? 2);

  const operatorPods = async (): Promise<V1Pod[]> => {
    const list = await core.listNamespacedPod({ namespace, labelSelector: selector('operator') });
    return list.items.filter((p) => !p.metadata?.deletionTimestamp).sort((a, b) => Number(isReady(b)) - Number(isReady(a)));
  };

  const waitUntilServing = async () => {
    const live = async (component: string) => (await core.listNamespacedPod({ namespace, labelSelector: selector(component) })).items.filter((p) => !p.metadata?.deletionTimestamp);
    try {
      // Every operator pod runs the current template; one of them (the leader) is Ready.
      await eventually('the operator to elect a Ready leader', async () => {
        const pods = await live('operator');
        const hashes = new Set(pods.map((p) => p.metadata?.labels?.['pod-template-hash']));
        return pods.length === replicas('operator') && hashes.size === 1 && pods.filter(isReady).length === 1 ? true : undefined;
      }, timeoutMs, 300);
      await eventually('every webhook pod to be Ready', async () => {
        const pods = await live('webhook');
        const hashes = new Set(pods.map((p) => p.metadata?.labels?.['pod-template-hash']));
        return pods.length === replicas('webhook') && hashes.size === 1 && pods.every(isReady) ? true : undefined;
      }, timeoutMs, 300);
    } catch (err) {
      const pods = [...await live('operator'), ...await live('webhook')];
      throw new Error(`${(err as Error).message}\n${describePods(pods)}`);
    }
    const probeNs = options.injectionProbeNamespace ?? 'default';
    if (probeNs !== false && replicas('webhook') > 0) {
      // The API server picks up the caBundle the operator patched in asynchronously.
      await eventually('the API server to inject a labelled pod', async () => {
        const pod = await core.createNamespacedPod({
          namespace: probeNs, dryRun: 'All',
          body: { metadata: { generateName: 'detour-probe-', labels: { 'detour.dev/inject': 'true' } }, spec: { containers: [{ name: 'app', image: 'detour/echo', ports: [{ name: 'http', containerPort: 8080 }] }] } },
        });
        return [...(pod.spec?.initContainers ?? []), ...pod.spec!.containers].some((c) => c.name === SIDECAR_CONTAINER) ? true : undefined;
      }, timeoutMs, 500);
    }
  };

  const apply = async (verb: 'install' | 'upgrade') => {
    writeFileSync(valuesFile, JSON.stringify(values));
    await helm([verb, releaseName, verb === 'install' ? options.chart ?? CHART_DIR : CHART_DIR, '--namespace', namespace, '--values', valuesFile, '--timeout', `${Math.ceil(timeoutMs / 1000)}s`]);
    await waitUntilServing();
  };

  if (ownNamespace) await core.createNamespace({ body: { metadata: { name: namespace } } });
  try {
    await apply('install');
  } catch (err) {
    await helm(['uninstall', releaseName, '--namespace', namespace, '--wait']).catch(() => undefined);
    if (ownNamespace) await deleteNamespace(kc, namespace);
    rmSync(work, { recursive: true, force: true });
    throw err;
  }

  let uninstalled = false;
  return {
    releaseName,
    namespace,
    operatorUrl: detourOperatorUrl(namespace, releaseName),
    get values() { return values; },
    helm,
    operatorPods,
    async upgrade(over: Values) {
      values = mergeValues(values, over);
      await apply('upgrade');
    },
    async rollback(revision: number, at: Values) {
      values = at;
      await helm(['rollback', releaseName, String(revision), '--namespace', namespace, '--timeout', `${Math.ceil(timeoutMs / 1000)}s`]);
      await waitUntilServing();
    },
    async uninstall(o = {}) {
      if (uninstalled) return;
      uninstalled = true;
      try {
        await helm(['uninstall', releaseName, '--namespace', namespace, '--wait', '--timeout', '60s']);
        // Cluster-scoped leftovers would inject pods of later tests: make sure.
        await eventually('the webhook configuration to be gone', async () =>
          admission.readMutatingWebhookConfiguration({ name: fullname(releaseName) }).then(() => undefined, (e: { code?: number }) => (e.code === 404 ? true : undefined)), 30_000);
      } finally {
        if (ownNamespace && !o.keepNamespace) await deleteNamespace(kc, namespace);
        rmSync(work, { recursive: true, force: true });
      }
    },
  };
}
