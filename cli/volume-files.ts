// Pure: the files a container sees in its ConfigMap, Secret, downwardAPI and projected volumes, as
// Kubernetes would write them, for `detour run` to put under DETOUR_ROOT (each volume at its
// mountPath). Bytes, not strings: Secret and binaryData values are base64 in the API and are
// written exactly as decoded. Secret files get mode 0600, the others 0644.

import { resolveFieldRef, type FieldRefPod } from '../core/kube/field-ref.js';

interface KeyToPath { key: string; path: string; mode?: number }
interface ConfigMapSource { name: string; items?: KeyToPath[]; optional?: boolean }
interface SecretSource { secretName?: string; name?: string; items?: KeyToPath[]; optional?: boolean }
interface DownwardItem { path: string; fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string } }

export interface VolumeJson {
  name: string;
  configMap?: ConfigMapSource;
  secret?: SecretSource;
  downwardAPI?: { items?: DownwardItem[] };
  projected?: { sources?: Array<{ configMap?: ConfigMapSource; secret?: SecretSource; downwardAPI?: { items?: DownwardItem[] }; serviceAccountToken?: { path: string } }> };
}

export interface VolumeMountJson { name: string; mountPath: string; subPath?: string; readOnly?: boolean }

/** A ConfigMap or Secret as the API returns it (values base64 for Secrets and binaryData). */
export interface ObjectData { data?: Record<string, string>; binaryData?: Record<string, string> }
export type FetchedObject = { object: ObjectData } | { error: string };

export interface PlannedFile {
  /** Relative to DETOUR_ROOT, without a leading slash: the mountPath joined with the key's path. */
  path: string;
  content: Buffer;
  mode: 0o600 | 0o644;
}

export interface VolumePlan {
  files: PlannedFile[];
  /** What could not be written, with why (shown to the user; never values). */
  skipped: Array<{ mountPath: string; reason: string }>;
}

/** The ConfigMaps and Secrets the mounted volumes refer to, to fetch before planVolumeFiles. */
export function planVolumeReferences(volumes: readonly VolumeJson[], mounts: readonly VolumeMountJson[]): { configMaps: string[]; secrets: string[] } {
  const cms = new Set<string>();
  const secrets = new Set<string>();
  const mounted = new Set(mounts.map((m) => m.name));
  for (const v of volumes) {
    if (!mounted.has(v.name)) continue;
    if (v.configMap) cms.add(v.configMap.name);
    if (v.secret) secrets.add(v.secret.secretName ?? v.secret.name ?? '');
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap) cms.add(s.configMap.name);
      if (s.secret) secrets.add(s.secret.name ?? s.secret.secretName ?? '');
    }
  }
  cms.delete('');
  secrets.delete('');
  return { configMaps: [...cms], secrets: [...secrets] };
}

function clean(path: string): string | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}

function objectFiles(obj: ObjectData, secret: boolean, items: KeyToPath[] | undefined): { files: Array<{ path: string; content: Buffer }>; missing: string[] } {
  const all = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(obj.data ?? {})) all.set(k, secret ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(obj.binaryData ?? {})) all.set(k, Buffer.from(v, 'base64'));
  if (!items) return { files: [...all].map(([path, content]) => ({ path, content })), missing: [] };
  const files: Array<{ path: string; content: Buffer }> = [];
  const missing: string[] = [];
  for (const it of items) {
    const c = all.get(it.key);
    if (c === undefined) missing.push(it.key); else files.push({ path: it.path, content: c });
  }
  return { files, missing };
}

export interface VolumeSources {
  configMaps: ReadonlyMap<string, FetchedObject>;
  secrets: ReadonlyMap<string, FetchedObject>;
  pod?: FieldRefPod;
}

export function planVolumeFiles(volumes: readonly VolumeJson[], mounts: readonly VolumeMountJson[], sources: VolumeSources): VolumePlan {
  const plan: VolumePlan = { files: [], skipped: [] };
  const byName = new Map(volumes.map((v) => [v.name, v]));
  for (const m of mounts) {
    const v = byName.get(m.name);
    const mountPath = clean(m.mountPath);
    if (!v || mountPath === undefined) continue;
    const files: Array<{ path: string; content: Buffer; mode: 0o600 | 0o644 }> = [];
    const take = (src: ConfigMapSource | SecretSource, secret: boolean): void => {
      const name = secret ? ((src as SecretSource).secretName ?? (src as SecretSource).name ?? '') : (src as ConfigMapSource).name;
      const fetched = (secret ? sources.secrets : sources.configMaps).get(name);
      const kind = secret ? 'Secret' : 'ConfigMap';
      if (!fetched || 'error' in fetched) {
        if (!(src.optional && fetched && /not found/.test(fetched.error))) plan.skipped.push({ mountPath: m.mountPath, reason: `${kind} ${name}: ${fetched && 'error' in fetched ? fetched.error : 'not read'}` });
        return;
      }
      const got = objectFiles(fetched.object, secret, src.items);
      for (const k of got.missing) if (!src.optional) plan.skipped.push({ mountPath: m.mountPath, reason: `${kind} ${name} has no key ${k}` });
      for (const f of got.files) files.push({ ...f, mode: secret ? 0o600 : 0o644 });
    };
    const downward = (items: DownwardItem[] | undefined): void => {
      for (const it of items ?? []) {
        const value = it.fieldRef && sources.pod ? resolveFieldRef(sources.pod, it.fieldRef.fieldPath) : undefined;
        if (value === undefined) { plan.skipped.push({ mountPath: m.mountPath, reason: `${it.path}: ${it.fieldRef ? `field ${it.fieldRef.fieldPath}${sources.pod ? '' : ' (no running pod to read it from)'}` : 'resource fields are not resolved'}` }); continue; }
        files.push({ path: it.path, content: Buffer.from(value, 'utf8'), mode: 0o644 });
      }
    };
    if (v.configMap) take(v.configMap, false);
    else if (v.secret) take(v.secret, true);
    else if (v.downwardAPI) downward(v.downwardAPI.items);
    else if (v.projected) {
      for (const s of v.projected.sources ?? []) {
        if (s.configMap) take(s.configMap, false);
        if (s.secret) take(s.secret, true);
        if (s.downwardAPI) downward(s.downwardAPI.items);
        if (s.serviceAccountToken) plan.skipped.push({ mountPath: m.mountPath, reason: `${s.serviceAccountToken.path}: service account tokens are not copied to the laptop` });
      }
    } else continue; // emptyDir, hostPath, PVCs: nothing to copy
    for (const f of files) {
      const rel = clean(f.path);
      if (rel === undefined || rel === '') { plan.skipped.push({ mountPath: m.mountPath, reason: `unsafe path ${JSON.stringify(f.path)}` }); continue; }
      if (m.subPath !== undefined) {
        if (clean(m.subPath) === rel) plan.files.push({ path: mountPath, content: f.content, mode: f.mode });
        continue;
      }
      plan.files.push({ path: `${mountPath}/${rel}`, content: f.content, mode: f.mode });
    }
  }
  return plan;
}
