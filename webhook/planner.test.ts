import { describe, expect, it } from '@jest/globals';
import {
  DETOUR_UID, INJECTED_ANNOTATION, IPTABLES_ANNOTATION, IPTABLES_INIT_CONTAINER, SIDECAR_ADMIN_PORT, SIDECAR_CONTAINER,
  SIDECAR_PROXY_PORT_FIRST, SIDECAR_TUNNEL_PORT, TOKEN_AUDIENCE, TOKEN_MOUNT_PATH, TOKEN_VOLUME,
} from '../core/constants.js';
import { parseInjectionRecord, PORTS_ANNOTATION } from '../core/injection-record.js';
import { DETOUR_VERSION } from '../core/version/version.js';
import { applyJsonPatch } from '../core/json-patch.js';
import type { TakenOverPort } from '../core/sidecar-config.js';
import { buildInjectionConfig, type InjectionConfig } from './config.js';
import { parseSidecarLimits } from './settings.js';
import type { Container, Pod } from './pod.js';
import { planInjection } from './planner.js';

const config = buildInjectionConfig({ sidecarImage: 'detour:test', operatorUrl: 'ws://operator:8081/control' });

function pod(spec: Partial<Pod['spec']> & { containers: Container[] }, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'checkout-7d9f8b6c4-',
      labels: { app: 'checkout', 'detour.dev/inject': 'true', 'pod-template-hash': '7d9f8b6c4' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c4', controller: true }],
      ...meta,
    },
    spec,
  };
}

const app = (extra: Partial<Container> = {}): Container => ({ name: 'app', image: 'shop/checkout:1', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }], ...extra });

function inject(p: Pod, cfg: InjectionConfig = config, namespace = 'shop') {
  const plan = planInjection({ pod: p, namespace, config: cfg });
  if (plan.action !== 'inject') throw new Error(`expected injection, got skip: ${plan.reason}`);
  const result = applyJsonPatch(p, plan.ops);
  const sidecar = [...result.spec.containers, ...(result.spec.initContainers ?? [])].find((c) => c.name === SIDECAR_CONTAINER);
  if (!sidecar) throw new Error('no sidecar in the patched pod');
  const env = Object.fromEntries(((sidecar.env ?? []) as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
  return { plan, result, sidecar, env, ports: JSON.parse(env.DETOUR_PORTS ?? '[]') as TakenOverPort[] };
}

function portNames(c: Container | undefined): (string | undefined)[] {
  return (c?.ports ?? []).map((p) => p.name);
}

describe('planInjection: what the patched pod looks like', () => {
  it('writes the configured sidecar limits into its env, and nothing for the defaults', () => {
    expect(Object.keys(inject(pod({ containers: [app()] })).env).filter((k) => k.startsWith('DETOUR_MAX') || k.endsWith('TIMEOUT_SECONDS'))).toEqual([]);
    const limited = buildInjectionConfig({ ...config, sidecarLimits: parseSidecarLimits('{"maxConnections":256,"requestTimeoutSeconds":0}') });
    const { env } = inject(pod({ containers: [app()] }), limited);
    expect(env).toMatchObject({ DETOUR_MAX_CONNECTIONS: '256', DETOUR_REQUEST_TIMEOUT_SECONDS: '0' });
    expect(() => parseSidecarLimits('{"maxConections":1}')).toThrow(/unknown limit "maxConections"/);
    expect(() => parseSidecarLimits('{"maxTunnels":-1}')).toThrow(/maxTunnels must be a non-negative integer/);
  });

  it('sizes the sidecar\'s V8 heap from its memory limit, and leaves V8 alone without one', () => {
    const big = inject(pod({ containers: [app()] }), buildInjectionConfig({ ...config, sidecarResources: { limits: { memory: '512Mi' } } }));
    expect(big.env.NODE_OPTIONS).toBe('--max-semi-space-size=16 --max-old-space-size=204');
    const none = inject(pod({ containers: [app()] }), buildInjectionConfig({ ...config, sidecarResources: { requests: { memory: '32Mi' } } }));
    expect(none.env).not.toHaveProperty('NODE_OPTIONS');
  });

  it('takes over the named port of a single-container Deployment pod as a native sidecar', () => {
    const { result, sidecar, env, ports } = inject(pod({ containers: [app()] }));
    expect(result.spec.containers[0]!.ports).toEqual([{ name: 'dt-http', containerPort: 8080, protocol: 'TCP' }]);
    expect(result.spec.initContainers?.[0]?.name).toBe(SIDECAR_CONTAINER);
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.ports).toContainEqual({ name: 'http', containerPort: SIDECAR_PROXY_PORT_FIRST, protocol: 'TCP' });
    expect(ports).toEqual([{ name: 'http', appPort: 8080, listenPort: SIDECAR_PROXY_PORT_FIRST }]);
    expect(env.DETOUR_WORKLOAD).toBe('Deployment/checkout');
    expect(env.DETOUR_OPERATOR_URL).toBe('ws://operator:8081/control');
    expect(env.DETOUR_TOKEN_PATH).toBe(`${TOKEN_MOUNT_PATH}/token`);
    expect(env.DETOUR_ADMIN_PORT).toBe(String(SIDECAR_ADMIN_PORT));
    expect(env.DETOUR_TUNNEL_PORT).toBe(String(SIDECAR_TUNNEL_PORT));
    const fieldRefs = Object.fromEntries((sidecar.env as { name: string; valueFrom?: { fieldRef: { fieldPath: string } } }[]).filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom!.fieldRef.fieldPath]));
    expect(fieldRefs).toEqual({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', POD_IP: 'status.podIP' });
    expect(sidecar.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: SIDECAR_ADMIN_PORT } });
    expect(sidecar.securityContext).toMatchObject({ runAsUser: DETOUR_UID, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(sidecar.resources).toEqual(config.sidecarResources);
    expect(env.NODE_OPTIONS).toBe('--max-semi-space-size=4 --max-old-space-size=51'); // from the 128Mi limit
    expect(sidecar.volumeMounts).toEqual([{ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true }]);
    expect(result.spec.volumes).toEqual([{ name: TOKEN_VOLUME, projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 3600, path: 'token' } }] } }]);
    const record = parseInjectionRecord(result.metadata.annotations?.[INJECTED_ANNOTATION]);
    expect(record).toMatchObject({ sidecar: SIDECAR_CONTAINER, native: true, workload: 'Deployment/checkout', renamed: [{ container: 'app', from: 'http', to: 'dt-http', containerPort: 8080 }] });
    // The sidecar's version: the image tag `test` is no release, so the webhook's own version.
    expect(record?.sidecarVersion).toBe(DETOUR_VERSION);
    // The rest of the pod is untouched.
    expect(result.metadata.labels).toEqual(pod({ containers: [] }).metadata.labels);
  });

  it.each<[string, string]>([
    ['ghcr.io/detour-dev/detour:0.1.3', '0.1.3'],
    ['ghcr.io/detour-dev/detour:v0.3.0@sha256:0123', '0.3.0'],
    ['ghcr.io/detour-dev/detour@sha256:0123', DETOUR_VERSION],
  ])('records the sidecar version of image %s as %s', (sidecarImage, want) => {
    const { result } = inject(pod({ containers: [app()] }), { ...config, sidecarImage });
    expect(parseInjectionRecord(result.metadata.annotations?.[INJECTED_ANNOTATION])?.sidecarVersion).toBe(want);
  });

  it('adds a regular container when native sidecars are switched off', () => {
    const { result } = inject(pod({ containers: [app()] }), { ...config, nativeSidecar: false });
    expect(result.spec.containers.map((c) => c.name)).toEqual(['app', SIDECAR_CONTAINER]);
    expect(result.spec.containers[1]!.restartPolicy).toBeUndefined();
    expect(result.spec.initContainers).toBeUndefined();
  });

  const probeCases: { name: string; container: Container; expected: Partial<Container> }[] = [
    {
      name: 'httpGet liveness, tcpSocket readiness and httpGet startup on the name',
      container: app({
        livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
        readinessProbe: { tcpSocket: { port: 'http' } },
        startupProbe: { httpGet: { path: '/started', port: 'http' }, failureThreshold: 30 },
      }),
      expected: {
        livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
        readinessProbe: { tcpSocket: { port: 8080 } },
        startupProbe: { httpGet: { path: '/started', port: 8080 }, failureThreshold: 30 },
      },
    },
    {
      name: 'probes on another named port and on numbers are left alone; grpc keeps its number',
      container: app({
        ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9000 }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'admin' } },
        readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
        startupProbe: { grpc: { port: 9000 } },
      }),
      expected: {
        livenessProbe: { httpGet: { path: '/healthz', port: 'admin' } },
        readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
        startupProbe: { grpc: { port: 9000 } },
      },
    },
    {
      name: 'a preStop hook on the name',
      container: app({ lifecycle: { preStop: { httpGet: { path: '/drain', port: 'http' } } } }),
      expected: { lifecycle: { preStop: { httpGet: { path: '/drain', port: 8080 } } } },
    },
  ];
  it.each(probeCases)('rewrites probes that named the taken-over port: $name', ({ container, expected }) => {
    const { result } = inject(pod({ containers: [container] }));
    expect(result.spec.containers[0]).toMatchObject(expected);
  });

  it('takes over the configured name in whichever container has it, and names from the pod annotation', () => {
    const p = pod({
      containers: [
        { name: 'envoy', ports: [{ name: 'admin', containerPort: 9901 }] },
        { name: 'web', ports: [{ name: 'metrics', containerPort: 9090 }, { name: 'http', containerPort: 3000 }] },
        { name: 'api', ports: [{ name: 'grpc', containerPort: 50051 }], readinessProbe: { tcpSocket: { port: 'grpc' } } },
      ],
    }, { annotations: { [PORTS_ANNOTATION]: 'grpc' } });
    const { result, ports, sidecar } = inject(p);
    expect(portNames(result.spec.containers[0])).toEqual(['admin']);
    expect(portNames(result.spec.containers[1])).toEqual(['metrics', 'dt-http']);
    expect(portNames(result.spec.containers[2])).toEqual(['dt-grpc']);
    expect(result.spec.containers[2]!.readinessProbe).toEqual({ tcpSocket: { port: 50051 } });
    expect(ports).toEqual([
      { name: 'http', appPort: 3000, listenPort: SIDECAR_PROXY_PORT_FIRST },
      { name: 'grpc', appPort: 50051, listenPort: SIDECAR_PROXY_PORT_FIRST + 1 },
    ]);
    expect(portNames(sidecar)).toEqual(['http', 'grpc', 'detour-admin', 'detour-tunnel']);
  });

  it('takes a name over once when two containers declare it, and says so', () => {
    const p = pod({ containers: [app(), { name: 'other', ports: [{ name: 'http', containerPort: 8081 }] }] });
    const { result, ports, plan } = inject(p);
    expect(ports).toHaveLength(1);
    expect(portNames(result.spec.containers[1])).toEqual(['http']);
    expect(plan.action === 'inject' && plan.warnings.join(' ')).toMatch(/other.*not taken over/);
  });

  it('keeps existing init containers, running them after the sidecar', () => {
    const p = pod({ containers: [app()], initContainers: [{ name: 'migrate', image: 'shop/migrate:1' }, { name: 'log-shipper', restartPolicy: 'Always', ports: [{ name: 'metrics', containerPort: 15090 }] }] });
    const { result } = inject(p);
    expect(result.spec.initContainers!.map((c) => c.name)).toEqual([SIDECAR_CONTAINER, 'migrate', 'log-shipper']);
    expect(result.spec.initContainers![1]).toEqual(p.spec.initContainers![0]);
  });

  it('injects in pass-through with a warning when the pod has no ports at all', () => {
    const { result, ports, plan, sidecar } = inject(pod({ containers: [{ name: 'worker', image: 'shop/worker:1' }] }));
    expect(ports).toEqual([]);
    expect(result.spec.containers[0]).toEqual({ name: 'worker', image: 'shop/worker:1' });
    expect(portNames(sidecar)).toEqual(['detour-admin', 'detour-tunnel']);
    expect(plan.action === 'inject' && plan.warnings.join(' ')).toMatch(/pass-through/);
  });

  it('a numeric port without the iptables opt-in is not taken over (pass-through, warned)', () => {
    const { ports, result, plan } = inject(pod({ containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }] }));
    expect(ports).toEqual([]);
    expect(result.spec.initContainers!.map((c) => c.name)).toEqual([SIDECAR_CONTAINER]);
    expect(plan.action === 'inject' && plan.warnings.join(' ')).toMatch(/detour.dev\/iptables/);
  });

  it.each([
    { value: 'true', expected: [8080, 9000] },
    { value: '8080', expected: [8080] },
    { value: '8080, 7000', expected: [8080, 7000] },
  ])('redirects numeric ports with an iptables init container when opted in ($value)', ({ value, expected }) => {
    const p = pod({ containers: [{ name: 'app', ports: [{ containerPort: 8080 }, { containerPort: 9000 }, { containerPort: 53, protocol: 'UDP' }] }] }, { annotations: { [IPTABLES_ANNOTATION]: value } });
    const { result, ports } = inject(p);
    expect(ports.map((x) => x.appPort)).toEqual(expected);
    expect(ports.every((x) => x.name === undefined && x.listenPort >= SIDECAR_PROXY_PORT_FIRST)).toBe(true);
    const [init, sidecar] = result.spec.initContainers!;
    expect([init!.name, sidecar!.name]).toEqual([IPTABLES_INIT_CONTAINER, SIDECAR_CONTAINER]);
    expect(init!.securityContext).toMatchObject({ runAsUser: 0, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] } });
    const script = (init!.args as string[])[0]!;
    for (const x of ports) expect(script).toContain(`--dport ${x.appPort} -j REDIRECT --to-ports ${x.listenPort}`);
    expect(script).toContain(`! --uid-owner ${DETOUR_UID}`);
    expect(result.spec.containers[0]!.ports).toEqual(p.spec.containers[0]!.ports);
  });

  it('moves the sidecar to free numbers when the app already uses them, and records them', () => {
    const p = pod({
      containers: [app({ ports: [{ name: 'http', containerPort: 15080 }, { name: 'debug', containerPort: 15020 }, { containerPort: 15081 }] })],
      initContainers: [{ name: 'proxy', restartPolicy: 'Always', ports: [{ containerPort: 15021 }] }],
    });
    const { ports, env, sidecar, result } = inject(p);
    expect(ports).toEqual([{ name: 'http', appPort: 15080, listenPort: 15082 }]);
    expect(env.DETOUR_ADMIN_PORT).toBe('15022');
    expect(env.DETOUR_TUNNEL_PORT).toBe('15023');
    expect(sidecar.readinessProbe).toMatchObject({ httpGet: { port: 15022 } });
    const all = [...result.spec.containers, ...result.spec.initContainers!].flatMap((c) => (c.ports ?? []).map((x) => x.containerPort));
    expect(new Set(all).size).toBe(all.length);
    expect(parseInjectionRecord(result.metadata.annotations?.[INJECTED_ANNOTATION])).toMatchObject({ adminPort: 15022, tunnelPort: 15023 });
  });

  it('keeps renamed port names within 15 characters and unique', () => {
    const p = pod({
      containers: [{ name: 'app', ports: [
        { name: 'public-traffic', containerPort: 8080 },
        { name: 'dt-public-traff', containerPort: 8081 },
      ] }],
    }, { annotations: { [PORTS_ANNOTATION]: 'public-traffic' } });
    const { result } = inject(p);
    const names = portNames(result.spec.containers[0]);
    expect(names[0]).toMatch(/^dt-/);
    expect(names[0]!.length).toBeLessThanOrEqual(15);
    expect(names[0]).not.toBe('dt-public-traff');
    expect(names[1]).toBe('dt-public-traff');
    expect(names[0]).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  it('adds to existing volumes and annotations instead of replacing them', () => {
    const p = pod({ containers: [app()], volumes: [{ name: 'data', emptyDir: {} }] }, { annotations: { team: 'shop' } });
    const { result } = inject(p);
    expect(result.spec.volumes!.map((v) => v.name)).toEqual(['data', TOKEN_VOLUME]);
    expect(result.metadata.annotations!.team).toBe('shop');
    expect(result.metadata.annotations![INJECTED_ANNOTATION]).toBeDefined();
  });
});

describe('planInjection: workload identity', () => {
  const cases: { name: string; meta: Partial<Pod['metadata']>; expected: string }[] = [
    { name: 'Deployment pod at admission (generateName, owner ReplicaSet)', meta: {}, expected: 'Deployment/checkout' },
    { name: 'Deployment with a dashed name', meta: { labels: { 'detour.dev/inject': 'true', 'pod-template-hash': '5b8c' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'shop-api-v2-5b8c', controller: true }] }, expected: 'Deployment/shop-api-v2' },
    { name: 'bare ReplicaSet (no pod-template-hash)', meta: { labels: { 'detour.dev/inject': 'true' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'legacy', controller: true }] }, expected: 'ReplicaSet/legacy' },
    { name: 'StatefulSet', meta: { name: 'db-0', generateName: undefined, labels: { 'detour.dev/inject': 'true' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', controller: true }] }, expected: 'StatefulSet/db' },
    { name: 'controller owner wins over others', meta: { labels: { 'detour.dev/inject': 'true' }, ownerReferences: [{ kind: 'ConfigMap', name: 'x' }, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', controller: true }] }, expected: 'StatefulSet/db' },
    { name: 'bare pod', meta: { name: 'debug', generateName: undefined, labels: { 'detour.dev/inject': 'true' }, ownerReferences: undefined }, expected: 'Pod/debug' },
  ];
  it.each(cases)('$name → $expected', ({ meta, expected }) => {
    expect(inject(pod({ containers: [app()] }, meta)).env.DETOUR_WORKLOAD).toBe(expected);
  });

  it('warns when the owner is not a kind an Intercept can target', () => {
    const { plan } = inject(pod({ containers: [app()] }, { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'nightly', controller: true }] }));
    expect(plan.action === 'inject' && plan.warnings.join(' ')).toMatch(/Job\/nightly/);
  });
});

describe('planInjection: skips', () => {
  const cases: { name: string; p: Pod; namespace?: string; reason: RegExp; quiet: boolean }[] = [
    { name: 'no label', p: pod({ containers: [app()] }, { labels: { app: 'checkout' } }), reason: /did not opt in/, quiet: true },
    { name: 'label not "true"', p: pod({ containers: [app()] }, { labels: { 'detour.dev/inject': 'false' } }), reason: /did not opt in/, quiet: true },
    { name: 'hostNetwork', p: pod({ containers: [app()], hostNetwork: true }), reason: /hostNetwork/, quiet: false },
    { name: 'system namespace', p: pod({ containers: [app()] }), namespace: 'kube-system', reason: /system namespace/, quiet: false },
    { name: 'sidecar container already there', p: pod({ containers: [app(), { name: SIDECAR_CONTAINER }] }), reason: /already/, quiet: true },
  ];
  it.each(cases)('$name', ({ p, namespace, reason, quiet }) => {
    const plan = planInjection({ pod: p, namespace: namespace ?? 'shop', config });
    expect(plan).toMatchObject({ action: 'skip', quiet });
    expect(plan.action === 'skip' && plan.reason).toMatch(reason);
  });

  it.each([
    { name: 'native sidecar', cfg: config },
    { name: 'regular container', cfg: { ...config, nativeSidecar: false } },
    { name: 'iptables', cfg: config, annotations: { [IPTABLES_ANNOTATION]: 'true' } },
  ])('a second admission of an injected pod ($name) plans nothing', ({ cfg, annotations }) => {
    const first = inject(pod({ containers: [app({ livenessProbe: { httpGet: { port: 'http' } } })] }, annotations ? { annotations } : {}), cfg);
    const second = planInjection({ pod: first.result, namespace: 'shop', config: cfg });
    expect(second).toMatchObject({ action: 'skip', quiet: true });
  });

  it('escapes the / of annotation keys in JSON pointers', () => {
    const plan = planInjection({ pod: pod({ containers: [app()] }, { annotations: {} }), namespace: 'shop', config });
    expect(plan.action === 'inject' && plan.ops.map((o) => o.path)).toContain('/metadata/annotations/detour.dev~1injected');
  });
});
