// The part of a Pod the planner reads, and a validator that turns untrusted JSON (an
// AdmissionReview's `request.object`) into it or into a precise reason why it cannot.

export type IntOrString = number | string;

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
  hostPort?: number;
}

export interface PortHandler {
  httpGet?: { port: IntOrString; [key: string]: unknown };
  tcpSocket?: { port: IntOrString; [key: string]: unknown };
  grpc?: { port: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  livenessProbe?: PortHandler;
  readinessProbe?: PortHandler;
  startupProbe?: PortHandler;
  lifecycle?: { postStart?: PortHandler; preStop?: PortHandler; [key: string]: unknown };
  restartPolicy?: string;
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  controller?: boolean;
}

export interface PodMetadata {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: PodMetadata;
  spec: {
    containers: Container[];
    initContainers?: Container[];
    volumes?: { name: string; [key: string]: unknown }[];
    hostNetwork?: boolean;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export type ReadResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): boolean {
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

function isIntOrString(v: unknown): boolean {
  return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v));
}

function checkHandler(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return `${path} must be an object`;
  for (const kind of ['httpGet', 'tcpSocket', 'grpc'] as const) {
    const h = v[kind];
    if (h === undefined || h === null) continue;
    if (!isObject(h)) return `${path}.${kind} must be an object`;
    if (!isIntOrString(h.port)) return `${path}.${kind}.port must be an integer or a string`;
  }
  return undefined;
}

function checkContainer(v: unknown, path: string): string | undefined {
  if (!isObject(v)) return `${path} must be an object`;
  if (typeof v.name !== 'string' || v.name === '') return `${path}.name must be a non-empty string`;
  if (v.ports !== undefined && v.ports !== null) {
    if (!Array.isArray(v.ports)) return `${path}.ports must be an array`;
    for (const [i, p] of v.ports.entries()) {
      if (!isObject(p)) return `${path}.ports[${i}] must be an object`;
      const n = p.containerPort;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return `${path}.ports[${i}].containerPort must be an integer in 1..65535`;
      if (p.name !== undefined && p.name !== null && typeof p.name !== 'string') return `${path}.ports[${i}].name must be a string`;
      if (p.protocol !== undefined && p.protocol !== null && typeof p.protocol !== 'string') return `${path}.ports[${i}].protocol must be a string`;
    }
  }
  for (const probe of PROBES) {
    const r = checkHandler(v[probe], `${path}.${probe}`);
    if (r) return r;
  }
  if (v.lifecycle !== undefined && v.lifecycle !== null) {
    if (!isObject(v.lifecycle)) return `${path}.lifecycle must be an object`;
    for (const hook of ['postStart', 'preStop'] as const) {
      const r = checkHandler(v.lifecycle[hook], `${path}.lifecycle.${hook}`);
      if (r) return r;
    }
  }
  if (v.restartPolicy !== undefined && v.restartPolicy !== null && typeof v.restartPolicy !== 'string') return `${path}.restartPolicy must be a string`;
  return undefined;
}

/** Checks the fields the planner relies on; anything else in the pod is left alone and unchecked. */
export function readPod(v: unknown): ReadResult<Pod> {
  if (!isObject(v)) return { ok: false, reason: 'object must be a Pod object' };
  if (v.kind !== undefined && v.kind !== 'Pod') return { ok: false, reason: `object.kind is ${JSON.stringify(v.kind).slice(0, 40)}, not Pod` };
  const meta = v.metadata;
  if (!isObject(meta)) return { ok: false, reason: 'object.metadata must be an object' };
  for (const f of ['name', 'generateName', 'namespace'] as const) {
    if (meta[f] !== undefined && meta[f] !== null && typeof meta[f] !== 'string') return { ok: false, reason: `object.metadata.${f} must be a string` };
  }
  for (const f of ['labels', 'annotations'] as const) {
    if (meta[f] !== undefined && meta[f] !== null && !isStringMap(meta[f])) return { ok: false, reason: `object.metadata.${f} must map strings to strings` };
  }
  if (meta.ownerReferences !== undefined && meta.ownerReferences !== null) {
    if (!Array.isArray(meta.ownerReferences)) return { ok: false, reason: 'object.metadata.ownerReferences must be an array' };
    for (const [i, o] of meta.ownerReferences.entries()) {
      if (!isObject(o) || typeof o.kind !== 'string' || typeof o.name !== 'string') return { ok: false, reason: `object.metadata.ownerReferences[${i}] needs a kind and a name` };
    }
  }
  const spec = v.spec;
  if (!isObject(spec)) return { ok: false, reason: 'object.spec must be an object' };
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) return { ok: false, reason: 'object.spec.containers must be a non-empty array' };
  for (const [i, c] of spec.containers.entries()) {
    const r = checkContainer(c, `object.spec.containers[${i}]`);
    if (r) return { ok: false, reason: r };
  }
  if (spec.initContainers !== undefined && spec.initContainers !== null) {
    if (!Array.isArray(spec.initContainers)) return { ok: false, reason: 'object.spec.initContainers must be an array' };
    for (const [i, c] of spec.initContainers.entries()) {
      const r = checkContainer(c, `object.spec.initContainers[${i}]`);
      if (r) return { ok: false, reason: r };
    }
  }
  if (spec.volumes !== undefined && spec.volumes !== null) {
    if (!Array.isArray(spec.volumes) || !spec.volumes.every((x) => isObject(x) && typeof x.name === 'string')) return { ok: false, reason: 'object.spec.volumes must be an array of named volumes' };
  }
  if (spec.hostNetwork !== undefined && spec.hostNetwork !== null && typeof spec.hostNetwork !== 'boolean') return { ok: false, reason: 'object.spec.hostNetwork must be a boolean' };
  return { ok: true, value: v as unknown as Pod };
}
