// A container's environment as the kubelet computes it. Pure: ConfigMaps and Secrets are looked up
// by the caller and passed in.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { resolveFieldRef } from '../../core/kube/field-ref.js';

export interface EnvSources {
  /** name → data (undefined: does not exist or cannot be read) */
  configMaps: Record<string, Record<string, string> | undefined>;
  /** name → decoded data */
  secrets: Record<string, Record<string, string> | undefined>;
}

export interface PodRuntimeInfo {
  podIp: string;
  hostIp: string;
  /** Env the kubelet adds for the `kubernetes` Service (KUBERNETES_SERVICE_HOST, …). */
  serviceEnv: Record<string, string>;
}

export type EnvResult = { env: Record<string, string> } | { error: string };

/** ConfigMaps and Secrets a container's env refers to (what the caller must look up). */
export function envReferences(container: V1Container): { configMaps: string[]; secrets: string[] } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const e of container.env ?? []) {
    if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
    if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
  }
  for (const f of container.envFrom ?? []) {
    if (f.configMapRef?.name) configMaps.add(f.configMapRef.name);
    if (f.secretRef?.name) secrets.add(f.secretRef.name);
  }
  return { configMaps: [...configMaps], secrets: [...secrets] };
}


/** Expands `$(VAR)` references to variables defined earlier, as the kubelet does; `$$` escapes. */
export function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m,
  );
}

export function buildContainerEnv(pod: V1Pod, container: V1Container, info: PodRuntimeInfo, sources: EnvSources): EnvResult {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOSTNAME: pod.metadata?.name ?? '',
    ...info.serviceEnv,
  };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef?.name) {
      const data = sources.configMaps[from.configMapRef.name];
      if (!data) {
        if (from.configMapRef.optional) continue;
        return { error: `configmap "${from.configMapRef.name}" not found` };
      }
      for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
    }
    if (from.secretRef?.name) {
      const data = sources.secrets[from.secretRef.name];
      if (!data) {
        if (from.secretRef.optional) continue;
        return { error: `secret "${from.secretRef.name}" not found` };
      }
      for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = expandVars(e.value, env);
      continue;
    }
    const src = e.valueFrom;
    if (!src) {
      env[e.name] = '';
    } else if (src.fieldRef) {
      // The pod's IPs as the node knows them now (the stored status may not have them yet).
      env[e.name] = resolveFieldRef({ metadata: pod.metadata, spec: pod.spec, status: { podIP: info.podIp, hostIP: info.hostIp } }, src.fieldRef.fieldPath) ?? '';
    } else if (src.configMapKeyRef) {
      const v = sources.configMaps[src.configMapKeyRef.name ?? '']?.[src.configMapKeyRef.key];
      if (v === undefined) {
        if (src.configMapKeyRef.optional) continue;
        return { error: `couldn't find key ${src.configMapKeyRef.key} in ConfigMap ${pod.metadata?.namespace}/${src.configMapKeyRef.name}` };
      }
      env[e.name] = v;
    } else if (src.secretKeyRef) {
      const v = sources.secrets[src.secretKeyRef.name ?? '']?.[src.secretKeyRef.key];
      if (v === undefined) {
        if (src.secretKeyRef.optional) continue;
        return { error: `couldn't find key ${src.secretKeyRef.key} in Secret ${pod.metadata?.namespace}/${src.secretKeyRef.name}` };
      }
      env[e.name] = v;
    } else if (src.resourceFieldRef) {
      env[e.name] = '0';
    }
  }
  return { env };
}
