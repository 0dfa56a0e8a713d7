// Pure: a container's environment as Kubernetes would give it (envFrom, then env; `$(VAR)`
// expansion of earlier variables), from ConfigMaps, Secrets and a pod that were fetched before.

import { resolveFieldRef, type FieldRefPod } from '../core/kube/field-ref.js';

export interface EnvVarSource {
  configMapKeyRef?: { name: string; key: string; optional?: boolean };
  secretKeyRef?: { name: string; key: string; optional?: boolean };
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: { resource: string; containerName?: string };
}

export interface ContainerEnv {
  name: string;
  env?: Array<{ name: string; value?: string; valueFrom?: EnvVarSource }>;
  envFrom?: Array<{ prefix?: string; configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string; optional?: boolean } }>;
}

/** A fetched ConfigMap/Secret (Secret values already decoded), or why it could not be read. */
export type Fetched = { data: Record<string, string> } | { error: string };

export interface EnvSources {
  configMaps: ReadonlyMap<string, Fetched>;
  secrets: ReadonlyMap<string, Fetched>;
  /** A running pod of the workload, for fieldRef (absent: field references stay unresolved). */
  pod?: FieldRefPod;
}

export interface ResolvedEnv {
  vars: Array<{ name: string; value: string }>;
  unresolved: Array<{ name: string; reason: string }>;
}

/** The ConfigMaps and Secrets a container refers to, to fetch before `resolveEnv`. */
export function planEnvReferences(c: ContainerEnv): { configMaps: string[]; secrets: string[] } {
  const cms = new Set<string>();
  const secrets = new Set<string>();
  for (const f of c.envFrom ?? []) {
    if (f.configMapRef) cms.add(f.configMapRef.name);
    if (f.secretRef) secrets.add(f.secretRef.name);
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.configMapKeyRef) cms.add(e.valueFrom.configMapKeyRef.name);
    if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
  }
  return { configMaps: [...cms], secrets: [...secrets] };
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Kubernetes' `$(VAR)` expansion: known variables are replaced, `$$` escapes, unknown references stay. */
export function expandReferences(value: string, known: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([^)]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && known.has(name) ? known.get(name)! : m;
  });
}


export function resolveEnv(c: ContainerEnv, sources: EnvSources): ResolvedEnv {
  const values = new Map<string, string>();
  const unresolved = new Map<string, string>();
  const set = (name: string, value: string) => { values.set(name, value); unresolved.delete(name); };
  const miss = (name: string, reason: string) => { values.delete(name); unresolved.set(name, reason); };

  for (const f of c.envFrom ?? []) {
    const ref = f.configMapRef ?? f.secretRef;
    if (!ref) continue;
    const kind = f.configMapRef ? 'ConfigMap' : 'Secret';
    const fetched = (f.configMapRef ? sources.configMaps : sources.secrets).get(ref.name);
    if (!fetched || 'error' in fetched) {
      if (!ref.optional) miss(`${f.prefix ?? ''}*`, `envFrom ${kind} ${ref.name}: ${fetched && 'error' in fetched ? fetched.error : 'not read'}`);
      continue;
    }
    for (const [k, v] of Object.entries(fetched.data)) {
      const name = `${f.prefix ?? ''}${k}`;
      if (ENV_NAME.test(name)) set(name, v);
    }
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom === undefined) { set(e.name, expandReferences(e.value ?? '', values)); continue; }
    const vf = e.valueFrom;
    const keyRef = vf.configMapKeyRef ?? vf.secretKeyRef;
    if (keyRef) {
      const kind = vf.configMapKeyRef ? 'ConfigMap' : 'Secret';
      const fetched = (vf.configMapKeyRef ? sources.configMaps : sources.secrets).get(keyRef.name);
      if (!fetched || 'error' in fetched) {
        if (keyRef.optional && fetched && 'error' in fetched && /not found/.test(fetched.error)) continue;
        miss(e.name, `${kind} ${keyRef.name}: ${fetched && 'error' in fetched ? fetched.error : 'not read'}`);
      } else if (fetched.data[keyRef.key] === undefined) {
        if (!keyRef.optional) miss(e.name, `${kind} ${keyRef.name} has no key ${keyRef.key}`);
      } else set(e.name, fetched.data[keyRef.key]!);
    } else if (vf.fieldRef) {
      const v = sources.pod ? resolveFieldRef(sources.pod, vf.fieldRef.fieldPath) : undefined;
      if (v === undefined) miss(e.name, `field ${vf.fieldRef.fieldPath}${sources.pod ? '' : ' (no running pod to read it from)'}`);
      else set(e.name, v);
    } else if (vf.resourceFieldRef) {
      miss(e.name, `resource field ${vf.resourceFieldRef.resource}`);
    }
  }
  return {
    vars: [...values].map(([name, value]) => ({ name, value })),
    unresolved: [...unresolved].map(([name, reason]) => ({ name, reason })),
  };
}

const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

function dotenvQuote(v: string): string {
  if (/^[A-Za-z0-9_./:@,+-]*$/.test(v)) return v;
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\$/g, '\\$')}"`;
}

export function formatEnv(env: ResolvedEnv, format: 'dotenv' | 'json' | 'shell'): string {
  if (format === 'json') {
    const out: { env: Record<string, string>; unresolved?: Record<string, string> } = { env: Object.fromEntries(env.vars.map((v) => [v.name, v.value])) };
    if (env.unresolved.length) out.unresolved = Object.fromEntries(env.unresolved.map((u) => [u.name, u.reason]));
    return JSON.stringify(out, null, 2);
  }
  const lines = env.vars.map((v) => (format === 'shell' ? `export ${v.name}=${shellQuote(v.value)}` : `${v.name}=${dotenvQuote(v.value)}`));
  for (const u of env.unresolved) lines.push(`# ${u.name}: not resolved (${u.reason.replace(/\n/g, ' ')})`);
  return lines.join('\n');
}
