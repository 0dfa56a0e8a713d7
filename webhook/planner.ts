// The injection planner: pod + configuration → RFC 6902 operations. Pure: no I/O, no clock.

import {
  DETOUR_UID, INJECTED_ANNOTATION, IPTABLES_ANNOTATION, IPTABLES_INIT_CONTAINER, SIDECAR_CONTAINER,
  TOKEN_AUDIENCE, TOKEN_MOUNT_PATH, TOKEN_VOLUME,
} from '../core/constants.js';
import { parseIptablesAnnotation } from '../core/iptables-annotation.js';
import { INJECTION_RECORD_VERSION, PORTS_ANNOTATION, type InjectionRecord } from '../core/injection-record.js';
import { imageVersion } from '../core/version/release.js';
import { DETOUR_VERSION } from '../core/version/version.js';
import { buildPointer, type JsonPatchOperation } from '../core/json-patch.js';
import { SIDECAR_ENV, SIDECAR_LIMIT_ENV, type SidecarLimits } from '../core/sidecar-config.js';
import type { InjectionConfig } from './config.js';
import { buildSidecarNodeOptions } from './node-options.js';
import type { Container, Pod, PortHandler } from './pod.js';
import { planPorts, type PortPlan } from './ports.js';
import { planSkip } from './predicates.js';
import { formatWorkload, isWorkloadKind } from '../core/workload-ref.js';
import { planWorkload } from './workload.js';

export const TOKEN_FILE = 'token';
export const READINESS_PATH = '/readyz';

export type InjectionPlan =
  | { action: 'skip'; reason: string; quiet: boolean }
  | { action: 'inject'; ops: JsonPatchOperation[]; warnings: string[]; record: InjectionRecord };

export interface PlanInput {
  pod: Pod;
  /** The request's namespace (a pod being created often has no metadata.namespace yet). */
  namespace: string;
  config: InjectionConfig;
}

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
const HOOKS = ['postStart', 'preStop'] as const;
const HANDLER_KINDS = ['httpGet', 'tcpSocket', 'grpc'] as const;

/** Rewrites probe and lifecycle handler ports that name `portName` to `port` in one container. */
function planHandlerRewrites(container: Container, base: (string | number)[], portName: string, port: number): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  const visit = (handler: PortHandler | undefined | null, path: (string | number)[]) => {
    if (!handler || typeof handler !== 'object') return;
    for (const kind of HANDLER_KINDS) {
      const h = handler[kind];
      if (h && typeof h === 'object' && h.port === portName) ops.push({ op: 'replace', path: buildPointer(...base, ...path, kind, 'port'), value: port });
    }
  };
  for (const probe of PROBES) visit(container[probe], [probe]);
  if (container.lifecycle && typeof container.lifecycle === 'object') for (const hook of HOOKS) visit(container.lifecycle[hook], ['lifecycle', hook]);
  return ops;
}

function sidecarEnv(config: InjectionConfig, workload: string, ports: PortPlan) {
  return [
    { name: SIDECAR_ENV.podName, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: SIDECAR_ENV.podNamespace, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
    { name: SIDECAR_ENV.podIp, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
    { name: SIDECAR_ENV.workload, value: workload },
    { name: SIDECAR_ENV.ports, value: JSON.stringify(ports.taken) },
    { name: SIDECAR_ENV.operatorUrl, value: config.operatorUrl },
    ...(config.operatorCaPem ? [{ name: SIDECAR_ENV.operatorCa, value: config.operatorCaPem }] : []),
    { name: SIDECAR_ENV.tokenPath, value: `${TOKEN_MOUNT_PATH}/${TOKEN_FILE}` },
    { name: SIDECAR_ENV.adminPort, value: String(ports.adminPort) },
    { name: SIDECAR_ENV.tunnelPort, value: String(ports.tunnelPort) },
    { name: SIDECAR_ENV.logLevel, value: config.sidecarLogLevel },
    ...(Object.keys(config.sidecarLimits) as (keyof SidecarLimits)[])
      .filter((k) => config.sidecarLimits[k] !== undefined)
      .map((k) => ({ name: SIDECAR_LIMIT_ENV[k], value: String(config.sidecarLimits[k]) })),
    ...nodeOptionsEnv(config.sidecarResources.limits?.memory),
  ];
}

/** V8 heap limits sized to the sidecar container's memory limit (see node-options.ts). */
function nodeOptionsEnv(memoryLimit: string | undefined): { name: string; value: string }[] {
  const value = buildSidecarNodeOptions(memoryLimit);
  return value === undefined ? [] : [{ name: 'NODE_OPTIONS', value }];
}

/** The sidecar container as injected. */
export function buildSidecarContainer(config: InjectionConfig, workload: string, ports: PortPlan): Record<string, unknown> {
  const containerPorts: Record<string, unknown>[] = [
    ...ports.named.map((t) => ({ name: t.name, containerPort: t.listenPort, protocol: 'TCP' })),
    { ...(ports.adminPortName ? { name: ports.adminPortName } : {}), containerPort: ports.adminPort, protocol: 'TCP' },
    { ...(ports.tunnelPortName ? { name: ports.tunnelPortName } : {}), containerPort: ports.tunnelPort, protocol: 'TCP' },
  ];
  return {
    name: SIDECAR_CONTAINER,
    image: config.sidecarImage,
    ...(config.sidecarImagePullPolicy ? { imagePullPolicy: config.sidecarImagePullPolicy } : {}),
    ...(config.sidecarCommand ? { command: [...config.sidecarCommand] } : {}),
    args: [...config.sidecarArgs],
    ...(config.nativeSidecar ? { restartPolicy: 'Always' } : {}),
    env: sidecarEnv(config, workload, ports),
    ports: containerPorts,
    readinessProbe: { httpGet: { path: READINESS_PATH, port: ports.adminPort }, periodSeconds: 2, failureThreshold: 3, timeoutSeconds: 1 },
    resources: structuredClone(config.sidecarResources),
    securityContext: {
      runAsUser: DETOUR_UID,
      runAsGroup: DETOUR_UID,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true }],
  };
}

/**
 * The iptables script: inbound TCP to each redirected port goes to the sidecar (PREROUTING), and so
 * does traffic the pod sends to its own non-loopback address (OUTPUT, local destinations only),
 * except the sidecar's own (uid DETOUR_UID), which is how it reaches the app without looping.
 * Re-running it in the same network namespace gives the same rules.
 */
export function buildIptablesScript(redirected: { appPort: number; listenPort: number }[]): string {
  const lines = [
    'set -e',
    'iptables -w -t nat -N DETOUR_INBOUND 2>/dev/null || iptables -w -t nat -F DETOUR_INBOUND',
    'iptables -w -t nat -N DETOUR_LOCAL 2>/dev/null || iptables -w -t nat -F DETOUR_LOCAL',
    'iptables -w -t nat -C PREROUTING -p tcp -j DETOUR_INBOUND 2>/dev/null || iptables -w -t nat -A PREROUTING -p tcp -j DETOUR_INBOUND',
    `iptables -w -t nat -C OUTPUT -p tcp ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -m owner ! --uid-owner ${DETOUR_UID} -j DETOUR_LOCAL 2>/dev/null || iptables -w -t nat -A OUTPUT -p tcp ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -m owner ! --uid-owner ${DETOUR_UID} -j DETOUR_LOCAL`,
  ];
  for (const r of redirected) {
    lines.push(`iptables -w -t nat -A DETOUR_INBOUND -p tcp --dport ${r.appPort} -j REDIRECT --to-ports ${r.listenPort}`);
    lines.push(`iptables -w -t nat -A DETOUR_LOCAL -p tcp --dport ${r.appPort} -j REDIRECT --to-ports ${r.listenPort}`);
  }
  return lines.join('\n') + '\n';
}

export function buildIptablesContainer(config: InjectionConfig, ports: PortPlan): Record<string, unknown> {
  return {
    name: IPTABLES_INIT_CONTAINER,
    image: config.iptablesImage,
    ...(config.sidecarImagePullPolicy ? { imagePullPolicy: config.sidecarImagePullPolicy } : {}),
    command: [...config.iptablesCommand],
    args: [buildIptablesScript(ports.redirected)],
    env: [{ name: SIDECAR_ENV.ports, value: JSON.stringify(ports.taken) }],
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    securityContext: {
      // Root only here, and only with the capabilities that iptables needs.
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: false,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
    },
  };
}

function buildTokenVolume(config: InjectionConfig) {
  return {
    name: TOKEN_VOLUME,
    projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: config.tokenExpirationSeconds, path: TOKEN_FILE } }] },
  };
}

/** Plans the injection of the Detour sidecar into `pod`; `skip` says why nothing is to be done. */
export function planInjection({ pod, namespace, config }: PlanInput): InjectionPlan {
  const skip = planSkip(pod, namespace, config);
  if (skip) return { action: 'skip', ...skip };

  const annotations = pod.metadata.annotations ?? {};
  const ports = planPorts(pod, { configured: config.portNames, annotation: annotations[PORTS_ANNOTATION], iptables: annotations[IPTABLES_ANNOTATION] });
  const warnings = [...ports.warnings];
  const workloadRef = planWorkload(pod);
  const workload = formatWorkload(workloadRef);
  if (!isWorkloadKind(workloadRef.kind)) warnings.push(`owner ${workload} is not a Deployment, StatefulSet or ReplicaSet; Intercepts cannot target it`);
  const iptablesRequested = parseIptablesAnnotation(annotations[IPTABLES_ANNOTATION]).mode !== 'off';
  if (iptablesRequested && ports.redirected.length === 0) warnings.push(`${IPTABLES_ANNOTATION} is set but there is no numeric port to redirect`);
  if (ports.named.length === 0 && ports.redirected.length === 0) {
    const names = [...new Set([...config.portNames, ...(annotations[PORTS_ANNOTATION] ?? '').split(',').map((s) => s.trim()).filter(Boolean)])];
    warnings.push(`sidecar injected in pass-through: no TCP port named ${names.join('/') || '(none configured)'} and no ${IPTABLES_ANNOTATION} opt-in`);
  }

  const ops: JsonPatchOperation[] = [];

  // 1. The app gives up its port names; its probes and hooks switch to numbers.
  for (const t of ports.named) {
    const container = pod.spec.containers[t.containerIndex]!;
    ops.push({ op: 'replace', path: buildPointer('spec', 'containers', t.containerIndex, 'ports', t.portIndex, 'name'), value: t.renamedTo });
    ops.push(...planHandlerRewrites(container, ['spec', 'containers', t.containerIndex], t.name, t.appPort));
  }

  // 2. The token volume.
  if (Array.isArray(pod.spec.volumes)) ops.push({ op: 'add', path: '/spec/volumes/-', value: buildTokenVolume(config) });
  else ops.push({ op: 'add', path: '/spec/volumes', value: [buildTokenVolume(config)] });

  // 3. The sidecar (native: first init container, after the iptables one) and the iptables init container.
  const sidecar = buildSidecarContainer(config, workload, ports);
  const inits: Record<string, unknown>[] = [];
  if (ports.redirected.length > 0) inits.push(buildIptablesContainer(config, ports));
  if (config.nativeSidecar) inits.push(sidecar);
  else ops.push({ op: 'add', path: '/spec/containers/-', value: sidecar });
  if (inits.length > 0) {
    if (Array.isArray(pod.spec.initContainers)) {
      inits.forEach((c, i) => ops.push({ op: 'add', path: buildPointer('spec', 'initContainers', i), value: c }));
    } else {
      ops.push({ op: 'add', path: '/spec/initContainers', value: inits });
    }
  }

  // 4. The record that makes the next admission a no-op.
  const record: InjectionRecord = {
    version: INJECTION_RECORD_VERSION,
    sidecar: SIDECAR_CONTAINER,
    native: config.nativeSidecar,
    workload,
    ports: ports.taken,
    renamed: ports.named.map((t) => ({ container: t.container, from: t.name, to: t.renamedTo, containerPort: t.appPort })),
    redirected: ports.redirected.map((r) => r.appPort),
    adminPort: ports.adminPort,
    tunnelPort: ports.tunnelPort,
    image: config.sidecarImage,
    sidecarVersion: imageVersion(config.sidecarImage) ?? DETOUR_VERSION,
  };
  if (pod.metadata.annotations && typeof pod.metadata.annotations === 'object') {
    ops.push({ op: 'add', path: buildPointer('metadata', 'annotations', INJECTED_ANNOTATION), value: JSON.stringify(record) });
  } else {
    ops.push({ op: 'add', path: '/metadata/annotations', value: { [INJECTED_ANNOTATION]: JSON.stringify(record) } });
  }

  return { action: 'inject', ops, warnings, record };
}
