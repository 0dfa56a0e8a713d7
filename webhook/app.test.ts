import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER } from '../core/constants.js';
import { applyJsonPatch, type JsonPatchOperation } from '../core/json-patch.js';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import { buildCertificateAuthority, buildLeafCertificate } from '../core/tls/certificates.js';
import { buildApp, MUTATE_PATH, reloadServingCertificate, type WebhookApp } from './app.js';
import { buildInjectionConfig } from './config.js';
import { WEBHOOK_ERRORS } from './errors.js';
import { buildWebhookMetrics } from './metrics.js';
import type { Pod } from './pod.js';

const logger = buildLogger({ name: 'test', level: 'silent' });
const config = buildInjectionConfig({ sidecarImage: 'detour:test' });
const BODY_LIMIT = 256 * 1024;

function newApp(extra: Partial<Parameters<typeof buildApp>[0]> = {}) {
  const registry = buildRegistry(false);
  const metrics = buildWebhookMetrics(registry);
  return { app: buildApp({ config, logger, metrics, bodyLimitBytes: BODY_LIMIT, ...extra }), registry, metrics };
}

function podObject(): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { generateName: 'web-5d8c9f-', namespace: 'shop', labels: { 'detour.dev/inject': 'true', 'pod-template-hash': '5d8c9f' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8c9f', controller: true }] },
    spec: { containers: [{ name: 'web', image: 'web:1', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/', port: 'http' } } }] },
  };
}

function review(object: unknown = podObject(), over: Record<string, unknown> = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'shop', operation: 'CREATE', userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object, oldObject: null, dryRun: false, options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...over,
    },
  };
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing case can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Mutation = { name: string; mutate: (r: ReturnType<typeof review>) => void; expect: 400 | 200 | 'either' };

function setPath(obj: Record<string, unknown>, path: string[], value: unknown) {
  let node: Record<string, unknown> = obj;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string, unknown>;
  if (value === undefined) delete node[path[path.length - 1]!];
  else node[path[path.length - 1]!] = value;
}

const HOSTILE_VALUES: unknown[] = [undefined, null, 0, -1, 1.5, 'x', '', true, [], [null], {}, { a: 1 }, 'A'.repeat(10_000)];
// Paths the webhook relies on: any wrong type there is a 400; elsewhere it is simply ignored.
const REQUIRED: string[][] = [
  ['request', 'uid'], ['request', 'kind'], ['request', 'kind', 'kind'], ['request', 'kind', 'group'], ['request', 'resource'], ['request', 'operation'],
  ['request', 'object', 'metadata'], ['request', 'object', 'spec'], ['request', 'object', 'spec', 'containers'],
];
const CHECKED: string[][] = [
  ['request', 'namespace'], ['request', 'dryRun'], ['request', 'object', 'metadata', 'labels'], ['request', 'object', 'metadata', 'annotations'],
  ['request', 'object', 'metadata', 'ownerReferences'], ['request', 'object', 'metadata', 'generateName'], ['request', 'object', 'spec', 'hostNetwork'],
  ['request', 'object', 'spec', 'initContainers'], ['request', 'object', 'spec', 'volumes'],
];
const CONTAINER_FIELDS: string[][] = [['name'], ['ports'], ['readinessProbe'], ['readinessProbe', 'httpGet'], ['readinessProbe', 'httpGet', 'port'], ['lifecycle']];
const PORT_FIELDS: string[][] = [['containerPort'], ['name'], ['protocol']];

function buildMutations(): Mutation[] {
  const out: Mutation[] = [];
  for (const path of [...REQUIRED, ...CHECKED]) {
    for (const value of HOSTILE_VALUES) {
      // Missing or null where the webhook needs a value is always refused; other values may be valid.
      const refused = REQUIRED.some((p) => p.join('.') === path.join('.')) && (value === undefined || value === null || (Array.isArray(value) && path.join('.') !== 'request.object.spec.containers'));
      out.push({ name: `${path.join('.')} = ${JSON.stringify(value)?.slice(0, 20)}`, mutate: (r) => setPath(r as unknown as Record<string, unknown>, path, value), expect: refused ? 400 : 'either' });
    }
  }
  for (const field of CONTAINER_FIELDS) for (const value of HOSTILE_VALUES) {
    out.push({ name: `container.${field.join('.')} = ${JSON.stringify(value)?.slice(0, 20)}`, mutate: (r) => setPath((r.request.object as Pod).spec.containers[0] as unknown as Record<string, unknown>, field, value), expect: 'either' });
  }
  for (const field of PORT_FIELDS) for (const value of HOSTILE_VALUES) {
    out.push({ name: `port.${field.join('.')} = ${JSON.stringify(value)?.slice(0, 20)}`, mutate: (r) => setPath((r.request.object as Pod).spec.containers[0]!.ports![0] as unknown as Record<string, unknown>, field, value), expect: 'either' });
  }
  // The ones that must be refused, whatever else happens.
  const refused: [string, (r: ReturnType<typeof review>) => void][] = [
    ['no request', (r) => setPath(r as unknown as Record<string, unknown>, ['request'], undefined)],
    ['no uid', (r) => setPath(r as unknown as Record<string, unknown>, ['request', 'uid'], undefined)],
    ['kind Status', (r) => setPath(r as unknown as Record<string, unknown>, ['kind'], 'Status')],
    ['apiVersion v1beta1', (r) => setPath(r as unknown as Record<string, unknown>, ['apiVersion'], 'admission.k8s.io/v1beta1')],
    ['object is a Service', (r) => setPath(r as unknown as Record<string, unknown>, ['request', 'object', 'kind'], 'Service')],
    ['no containers', (r) => setPath(r as unknown as Record<string, unknown>, ['request', 'object', 'spec', 'containers'], [])],
    ['containerPort 70000', (r) => setPath((r.request.object as Pod).spec.containers[0]!.ports![0] as unknown as Record<string, unknown>, ['containerPort'], 70000)],
    ['containerPort "8080"', (r) => setPath((r.request.object as Pod).spec.containers[0]!.ports![0] as unknown as Record<string, unknown>, ['containerPort'], '8080')],
    ['probe port object', (r) => setPath((r.request.object as Pod).spec.containers[0]!.readinessProbe!.httpGet as unknown as Record<string, unknown>, ['port'], {})],
    ['labels with a number', (r) => setPath(r as unknown as Record<string, unknown>, ['request', 'object', 'metadata', 'labels'], { 'detour.dev/inject': 1 })],
  ];
  for (const [name, mutate] of refused) out.push({ name: `refused: ${name}`, mutate, expect: 400 });
  return out;
}

// Not fastify's app.inject(): the apps listen on an ephemeral loopback port and get real HTTP, which
// puts Node's HTTP parser (the one the API server's requests meet) in the path.
const agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
const ports = new WeakMap<WebhookApp, number>();

async function listening(app: WebhookApp): Promise<number> {
  let port = ports.get(app);
  if (port === undefined) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
    ports.set(app, port);
  }
  return port;
}

async function send(app: WebhookApp, o: { method: string; url: string; payload?: string | Buffer; headers?: Record<string, string> }): Promise<{ statusCode: number; body: string }> {
  const port = await listening(app);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: o.method, path: o.url, agent, headers: { ...(o.payload !== undefined ? { 'content-length': String(Buffer.byteLength(o.payload)) } : {}), ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.payload);
  });
}

async function post(app: WebhookApp, payload: string | Buffer, contentType: string | null = 'application/json') {
  return send(app, { method: 'POST', url: MUTATE_PATH, payload, headers: contentType ? { 'content-type': contentType } : {} });
}

function expectWellFormedAnswer(res: { statusCode: number; body: string }, uid?: string) {
  expect(res.statusCode).not.toBe(500);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  if (res.statusCode === 200) {
    expect(body).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { allowed: true } });
    if (uid) expect((body.response as { uid: string }).uid).toBe(uid);
  } else {
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(Object.keys(WEBHOOK_ERRORS)).toContain(body.code);
    expect(typeof body.message).toBe('string');
  }
  return body;
}

function decodePatch(body: Record<string, unknown>): JsonPatchOperation[] {
  const patch = (body.response as { patch?: string }).patch;
  return patch ? JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as JsonPatchOperation[] : [];
}

describe('webhook app: well-formed reviews', () => {
  const { app, registry } = newApp();
  afterAll(() => app.close());

  it('injects an opted-in pod: the returned patch applies to the pod and adds the sidecar', async () => {
    const res = await post(app, JSON.stringify(review()));
    const body = expectWellFormedAnswer(res, '705ab4f5-6393-11e8-b7cc-42010a800002');
    expect((body.response as { patchType?: string }).patchType).toBe('JSONPatch');
    const patched = applyJsonPatch(podObject(), decodePatch(body));
    expect(patched.spec.initContainers?.map((c) => c.name)).toEqual([SIDECAR_CONTAINER]);
    expect(patched.metadata.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
    expect(await registry.getSingleMetricAsString('detour_webhook_admissions_total')).toMatch(/result="injected"} 1/);
  });

  it('hands the current operator CA bundle to each injected sidecar (it rotates between admissions)', async () => {
    let ca = '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n';
    const { app: withCa } = newApp({ operatorCa: () => ca });
    const envOf = async () => {
      const patched = applyJsonPatch(podObject(), decodePatch(expectWellFormedAnswer(await post(withCa, JSON.stringify(review())))));
      const sidecar = patched.spec.initContainers!.find((c) => c.name === SIDECAR_CONTAINER)!;
      return (sidecar.env as Array<{ name: string; value?: string }>).find((e) => e.name === 'DETOUR_OPERATOR_CA')?.value;
    };
    expect(await envOf()).toBe(ca);
    ca = `${ca}-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n`;
    expect(await envOf()).toBe(ca);
    await withCa.close();
  });

  it('allows without a patch, and without a warning, a pod that did not opt in', async () => {
    const pod = podObject();
    pod.metadata.labels = { app: 'web' };
    const body = expectWellFormedAnswer(await post(app, JSON.stringify(review(pod))));
    expect(body.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  });

  it('allows with a warning that says why when it cannot inject', async () => {
    const pod = podObject();
    pod.spec.hostNetwork = true;
    const body = expectWellFormedAnswer(await post(app, JSON.stringify(review(pod))));
    expect((body.response as { patch?: string }).patch).toBeUndefined();
    expect((body.response as { warnings: string[] }).warnings).toEqual([expect.stringMatching(/^detour: .*hostNetwork/)]);
  });

  it.each([
    ['UPDATE of a pod', { operation: 'UPDATE' }],
    ['a Deployment', { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } }],
    ['the pods/ephemeralcontainers subresource', { subResource: 'ephemeralcontainers' }],
  ])('leaves %s alone, allowed with a warning', async (_name, over) => {
    const body = expectWellFormedAnswer(await post(app, JSON.stringify(review(podObject(), over))));
    expect((body.response as { patch?: string }).patch).toBeUndefined();
    expect((body.response as { warnings: string[] }).warnings[0]).toMatch(/only handles pod CREATE/);
  });

  it('handles a pod with hundreds of containers and keeps warnings single-line and short', async () => {
    const pod = podObject();
    pod.spec.containers = Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, ports: [{ name: 'http', containerPort: 8000 + i }] }));
    const body = expectWellFormedAnswer(await post(app, JSON.stringify(review(pod))));
    const patched = applyJsonPatch(pod, decodePatch(body));
    expect(patched.spec.containers[0]!.ports![0]!.name).toBe('dt-http');
    for (const w of (body.response as { warnings?: string[] }).warnings ?? []) expect(w).toMatch(/^[\x20-\x7e]{1,120}$/);
  });

  it('answers health and readiness', async () => {
    expect((await send(app, { method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await send(app, { method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const notReady = newApp({ isReady: () => false });
    expect((await send(notReady.app, { method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await notReady.app.close();
  });
});

describe('webhook app: malformed and hostile requests', () => {
  const { app, registry } = newApp();
  afterAll(() => app.close());

  const mutations = buildMutations();
  it(`answers ${mutations.length} mutated reviews with a well-formed AdmissionReview or a clear 4xx`, async () => {
    for (const m of mutations) {
      const r = review();
      m.mutate(r);
      const res = await post(app, JSON.stringify(r));
      try {
        const body = expectWellFormedAnswer(res);
        if (m.expect !== 'either') expect(res.statusCode).toBe(m.expect);
        if (res.statusCode === 400) expect(typeof body.reason).toBe('string');
        if (res.statusCode === 200) applyJsonPatch(r.request.object, decodePatch(body)); // the patch fits the object it was made for
      } catch (err) {
        throw new Error(`case "${m.name}": ${(err as Error).message}`);
      }
    }
  });

  it('answers 200 random garbage bodies with 400 MALFORMED_JSON and keeps serving', async () => {
    const random = rng(42);
    for (let i = 0; i < 200; i++) {
      const length = Math.floor(random() * 2048);
      const bytes = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
      if (i % 3 === 0) bytes[0] = 0x7b; // starts like an object
      const res = await post(app, bytes);
      const body = expectWellFormedAnswer(res);
      expect(res.statusCode).toBe(400);
      expect(body.code).toBe('MALFORMED_JSON');
    }
    expectWellFormedAnswer(await post(app, JSON.stringify(review())), '705ab4f5-6393-11e8-b7cc-42010a800002');
  });

  it('answers truncated reviews (every prefix length class) with 400', async () => {
    const full = JSON.stringify(review());
    for (let cut = 1; cut < full.length; cut += 37) {
      const res = await post(app, full.slice(0, cut));
      expect(res.statusCode).toBe(400);
      expectWellFormedAnswer(res);
    }
  });

  it.each([
    ['a number', '42'], ['a string', '"AdmissionReview"'], ['null', 'null'], ['an array', '[{"kind":"AdmissionReview"}]'],
    ['an empty object', '{}'], ['a prototype-poisoning object', '{"__proto__":{"allowed":true},"kind":"AdmissionReview"}'],
    ['a constructor-poisoning object', '{"constructor":{"prototype":{"x":1}}}'],
  ])('refuses %s with 400', async (_name, payload) => {
    const res = await post(app, payload);
    expect(res.statusCode).toBe(400);
    expectWellFormedAnswer(res);
  });

  it('refuses a body over the limit with 413', async () => {
    const pod = podObject();
    (pod.metadata.annotations as Record<string, string>) = { big: 'x'.repeat(BODY_LIMIT) };
    const res = await post(app, JSON.stringify(review(pod)));
    expect(res.statusCode).toBe(413);
    expect(expectWellFormedAnswer(res).code).toBe('BODY_TOO_LARGE');
  });

  it('survives deeply nested JSON inside the limit', async () => {
    const depth = 50_000;
    const res = await post(app, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    expect(res.statusCode).toBe(400);
    expectWellFormedAnswer(res);
    const nestedObject = `{"a":`.repeat(20_000) + '1' + '}'.repeat(20_000);
    const r = review();
    const res2 = await post(app, JSON.stringify(r).replace('"oldObject":null', `"oldObject":${nestedObject}`));
    expectWellFormedAnswer(res2, '705ab4f5-6393-11e8-b7cc-42010a800002');
  });

  it.each([
    ['text/plain', 415], ['application/x-www-form-urlencoded', 415], ['application/yaml', 415], [null, 415],
  ])('refuses content type %s with %d', async (contentType, status) => {
    const res = await post(app, JSON.stringify(review()), contentType);
    expect(res.statusCode).toBe(status);
    expectWellFormedAnswer(res);
  });

  it('refuses an empty body, other methods and paths with a 4xx', async () => {
    expect((await post(app, '')).statusCode).toBe(400);
    expect((await send(app, { method: 'GET', url: MUTATE_PATH })).statusCode).toBe(404);
    expect((await send(app, { method: 'POST', url: '/validate', payload: '{}', headers: { 'content-type': 'application/json' } })).statusCode).toBe(404);
  });

  it('counts malformed requests', async () => {
    expect(await registry.getSingleMetricAsString('detour_webhook_admissions_total')).toMatch(/result="malformed"} [1-9]/);
  });
});

afterAll(() => agent.destroy());

describe('webhook app over TLS', () => {
  const now = new Date();
  const ca = buildCertificateAuthority({ commonName: 'test-ca', now });
  const first = buildLeafCertificate({ ca, commonName: 'a', ipAddresses: ['127.0.0.1'], now });
  const second = buildLeafCertificate({ ca, commonName: 'b', ipAddresses: ['127.0.0.1'], now });
  let app: WebhookApp;
  let metrics: ReturnType<typeof buildWebhookMetrics>;
  let port: number;
  beforeAll(async () => {
    const built = newApp({ tls: first, requestTimeoutMs: 400 });
    app = built.app;
    metrics = built.metrics;
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(() => app.close());

  const peerCertificate = () => new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.certPem }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fp);
    });
    socket.on('error', reject);
  });

  it('switches to a new certificate without a restart, and refuses a broken one', async () => {
    expect(await peerCertificate()).toBe(new X509Certificate(first.certPem).fingerprint256);
    reloadServingCertificate(app, second, metrics);
    expect(await peerCertificate()).toBe(new X509Certificate(second.certPem).fingerprint256);
    expect(() => reloadServingCertificate(app, { certPem: first.certPem, keyPem: second.keyPem }, metrics)).toThrow();
    expect(await peerCertificate()).toBe(new X509Certificate(second.certPem).fingerprint256);
  });

  it('does not hang on a body that never finishes: 408 or a closed connection', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = httpsRequest({ host: '127.0.0.1', port, method: 'POST', path: MUTATE_PATH, ca: ca.certPem, headers: { 'content-type': 'application/json', 'content-length': '100000' } }, (res) => {
        res.resume();
        resolve(String(res.statusCode));
      });
      req.on('error', () => resolve('closed'));
      req.write('{"apiVersion":');
    });
    expect(['408', 'closed']).toContain(outcome);
  });
});
