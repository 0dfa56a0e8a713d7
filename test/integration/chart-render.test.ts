// The chart as files: helm lint and template pass, the rendered manifests pass a server-side dry
// run against the local API server, the chart's CRD is the one in crds/, and the webhook
// configuration it renders is the one webhook/registration.ts describes.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureControlPlaneBinaries, type BinaryPaths } from '../../cluster/controlplane/binaries.js';
import { buildMutatingWebhookConfiguration } from '../../webhook/registration.js';
import { createNamespace, deleteNamespace, loadKubeConfig } from '../../cluster/kube.js';
import { CHART_DIR } from '../../cluster/install-detour.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..', '..');
const kc = loadKubeConfig();

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  webhooks?: Array<Record<string, unknown> & { clientConfig: Record<string, unknown> }>;
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }>;
  [key: string]: unknown;
}

interface PodTemplate { spec: { securityContext?: Record<string, unknown>; containers: Array<{ name: string; args?: string[]; env?: Array<{ name: string; value?: string }>; securityContext?: Record<string, unknown> }> } }

let bin: BinaryPaths;
let work: string;
let ns: string;

async function helm(...args: string[]): Promise<string> {
  const env = { ...process.env, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config'), HELM_DATA_HOME: join(work, 'data') };
  const { stdout } = await run(bin.helm, args, { env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function render(namespace: string, ...set: string[]): Promise<Manifest[]> {
  const out = await helm('template', 'detour', CHART_DIR, '--namespace', namespace, ...set.flatMap((s) => ['--set', s]));
  return parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter(Boolean);
}

const find = (ms: Manifest[], kind: string, name?: string) => ms.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));

beforeAll(async () => {
  bin = await ensureControlPlaneBinaries(process.env.KUBEBUILDER_ASSETS);
  work = mkdtempSync(join(tmpdir(), 'detour-chart-'));
  ns = await createNamespace(kc, 'chart');
});

afterAll(async () => {
  if (ns) await deleteNamespace(kc, ns);
  rmSync(work, { recursive: true, force: true });
});

describe('the Helm chart', () => {
  it('passes helm lint --strict, with default values and with cert-manager', async () => {
    await expect(helm('lint', '--strict', CHART_DIR)).resolves.toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    await expect(helm('lint', '--strict', CHART_DIR, '--set', 'certificates.manager=cert-manager', '--set', 'metrics.serviceMonitor.enabled=true')).resolves.toMatch(/0 chart\(s\) failed/);
  });

  it('refuses values its schema does not allow, naming the field', async () => {
    await expect(render('x', 'webhook.failurePolicy=Sometimes')).rejects.toThrow(/failurePolicy/);
    await expect(render('x', 'certificates.manager=vault')).rejects.toThrow(/manager/);
    await expect(render('x', 'operatorReplicas=3')).rejects.toThrow(/operatorReplicas/);
  });

  it.each(['intercepts', 'interceptpolicies', 'clusterinterceptpolicies'])('ships the CRD %s.detour.dev byte for byte as crds/ has it', (plural) => {
    const chart = readFileSync(join(CHART_DIR, 'crds', `${plural}.detour.dev.yaml`));
    const source = readFileSync(join(repoRoot, 'crds', `${plural}.detour.dev.yaml`));
    expect(chart.equals(source)).toBe(true);
  });

  it('renders manifests the API server accepts in a server-side dry run', async () => {
    const out = await helm('template', 'detour', CHART_DIR, '--namespace', ns, '--include-crds', '--set', 'operator.podDisruptionBudget.enabled=true');
    const file = join(work, 'rendered.yaml');
    writeFileSync(file, out);
    const kubeconfig = join(work, 'kubeconfig');
    writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
    const { stdout } = await run(bin.kubectl, ['--kubeconfig', kubeconfig, 'apply', '--dry-run=server', '--namespace', ns, '-f', file], { maxBuffer: 16 * 1024 * 1024 });
    const rendered = parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter(Boolean);
    const accepted = stdout.trim().split('\n').filter((l) => / \(server dry run\)$/.test(l));
    expect(accepted).toHaveLength(rendered.length);
    const kinds = new Set(accepted.map((l) => l.split('/')[0]!.split('.')[0]));
    expect([...kinds].sort()).toEqual(['clusterrole', 'clusterrolebinding', 'customresourcedefinition', 'deployment', 'mutatingwebhookconfiguration', 'poddisruptionbudget', 'role', 'rolebinding', 'service', 'serviceaccount']);
    expect(stdout).toMatch(/mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/detour (created|configured) \(server dry run\)/);
  });

  it('renders the webhook configuration of webhook/registration.ts, without a caBundle the operator would fight over', async () => {
    const ms = await render('detour-system');
    const rendered = find(ms, 'MutatingWebhookConfiguration')!;
    const built = buildMutatingWebhookConfiguration({ name: 'detour', clientConfig: { service: { namespace: 'detour-system', name: 'detour-webhook' } }, interceptAdmission: { operatorUsername: 'system:serviceaccount:detour-system:detour-operator' } });
    expect(rendered.metadata.name).toBe(built.metadata.name);
    expect(rendered.metadata.annotations).toBeUndefined();
    expect(rendered.webhooks).toEqual(built.webhooks);
    expect(rendered.webhooks![0]!.clientConfig.caBundle).toBeUndefined();
    // The operator keeps it: it is told the names, and may patch only this configuration.
    const operator = find(ms, 'Deployment', 'detour-operator')! as unknown as { spec: { template: PodTemplate } };
    const env = Object.fromEntries(operator.spec.template.spec.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ DETOUR_CERT_MANAGER: 'self', DETOUR_WEBHOOK_CONFIGURATION: 'detour', DETOUR_WEBHOOK_SECRET: 'detour-webhook-tls', DETOUR_WEBHOOK_SERVICE: 'detour-webhook' });
    const role = find(ms, 'ClusterRole', 'detour-operator')!;
    expect(role.rules).toContainEqual({ apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['detour'], verbs: ['get', 'patch'] });
  });

  it('with cert-manager: a Certificate for the same Secret, the CA injected by annotation, and the operator keeps out', async () => {
    const ms = await render('detour-system', 'certificates.manager=cert-manager');
    const configuration = find(ms, 'MutatingWebhookConfiguration')!;
    expect(configuration.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'detour-system/detour-webhook' });
    expect(configuration.webhooks![0]!.clientConfig.caBundle).toBeUndefined();
    const certificate = find(ms, 'Certificate', 'detour-webhook')!;
    expect(certificate.spec).toMatchObject({ secretName: 'detour-webhook-tls', dnsNames: expect.arrayContaining(['detour-webhook.detour-system.svc']) });
    const operator = find(ms, 'Deployment', 'detour-operator')! as unknown as { spec: { template: PodTemplate } };
    expect(operator.spec.template.spec.containers[0]!.env).toContainEqual({ name: 'DETOUR_CERT_MANAGER', value: 'cert-manager' });
    const role = find(ms, 'ClusterRole', 'detour-operator')!;
    expect(role.rules!.some((r) => r.resources.includes('mutatingwebhookconfigurations'))).toBe(false);
  });

  it('runs every container as uid 65532 with a read-only root filesystem and no capabilities', async () => {
    const ms = await render('detour-system');
    const deployments = ms.filter((m) => m.kind === 'Deployment') as unknown as Array<Manifest & { spec: { template: PodTemplate } }>;
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['detour-operator', 'detour-webhook']);
    for (const d of deployments) {
      expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of d.spec.template.spec.containers) {
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      }
    }
  });

  it('labels everything with app.kubernetes.io/* and gives sidecars the operator Service of the release', async () => {
    const ms = await render('tools', 'sidecar.logLevel=debug', 'sidecar.limits.maxConnections=256');
    for (const m of ms) {
      expect(m.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'detour', 'app.kubernetes.io/instance': 'detour', 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/part-of': 'detour' });
    }
    const webhook = find(ms, 'Deployment', 'detour-webhook')! as unknown as { spec: { template: PodTemplate } };
    const env = Object.fromEntries(webhook.spec.template.spec.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ DETOUR_OPERATOR_URL: 'wss://detour-operator.tools.svc:8081/control', DETOUR_SIDECAR_LOG_LEVEL: 'debug', DETOUR_CERT_SOURCE: 'files' });
    expect(JSON.parse(env.DETOUR_SIDECAR_LIMITS!)).toEqual({ maxConnections: 256 }); // the webhook writes DETOUR_MAX_CONNECTIONS into sidecars
    expect(env.DETOUR_SYSTEM_NAMESPACES!.split(',')).toContain('tools');
    const configuration = find(ms, 'MutatingWebhookConfiguration')!;
    expect(JSON.stringify(configuration.webhooks![0]!.namespaceSelector)).toContain('"tools"');
  });

  it('grants the webhook read-only API access for Intercept admission, and developers only what an intercept needs', async () => {
    const ms = await render('detour-system');
    const webhookAccount = find(ms, 'ServiceAccount', 'detour-webhook')!;
    expect(webhookAccount.automountServiceAccountToken).toBeUndefined();
    const bindings = ms.filter((m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding') as Array<Manifest & { roleRef: { name: string }; subjects: Array<{ name: string }> }>;
    expect(bindings.filter((b) => b.subjects.some((s) => s.name === 'detour-webhook')).map((b) => b.roleRef.name)).toEqual(['detour-webhook']);
    const webhookRole = find(ms, 'ClusterRole', 'detour-webhook')!;
    expect(webhookRole.rules!.flatMap((r) => r.verbs)).toEqual(['list', 'get', 'get']);
    expect(webhookRole.rules!.flatMap((r) => r.resources)).not.toContain('secrets');
    const developer = find(ms, 'ClusterRole', 'detour-developer')!;
    // The tunnel is a WebSocket upgrade (a GET): no create, which would allow POST to any pod port.
    expect(developer.rules).toContainEqual({ apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] });
    expect(developer.rules).toContainEqual(expect.objectContaining({ apiGroups: ['detour.dev'], resources: ['intercepts'], verbs: expect.arrayContaining(['create', 'get', 'list', 'watch', 'delete']) }));
    // No Secrets at all: each Intercept's token is readable through a Role of its own (operator/reconcile/access.ts).
    expect(developer.rules!.some((r) => r.resources.includes('secrets'))).toBe(false);
  });
});
