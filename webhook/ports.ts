// Which ports the sidecar takes over and on which numbers it listens. Pure.
//
// Named takeover: every TCP container port of an app container whose name is in the configured
// list (default `http`) or in the pod's `detour.dev/ports` annotation. The app's port is renamed
// (`http` → `dt-http`), the sidecar declares `http` on its own number, and a Service whose
// targetPort is `http` now reaches the sidecar. Numeric redirect: ports listed in the
// `detour.dev/iptables` annotation (or every other declared TCP port for `true`).

import { RENAMED_PORT_PREFIX, SIDECAR_ADMIN_PORT, SIDECAR_PROXY_PORT_FIRST, SIDECAR_TUNNEL_PORT } from '../core/constants.js';
import { parseIptablesAnnotation } from '../core/iptables-annotation.js';
import type { TakenOverPort } from '../core/sidecar-config.js';
import type { Container, Pod } from './pod.js';

export const MAX_PORT_NAME_LENGTH = 15;
export const ADMIN_PORT_NAME = 'detour-admin';
export const TUNNEL_PORT_NAME = 'detour-tunnel';

export interface NamedTakeover {
  containerIndex: number;
  portIndex: number;
  container: string;
  name: string;
  renamedTo: string;
  appPort: number;
  listenPort: number;
}

export interface PortPlan {
  named: NamedTakeover[];
  redirected: { appPort: number; listenPort: number }[];
  adminPort: number;
  tunnelPort: number;
  /** Port names nobody in the pod uses yet, for the sidecar's admin and tunnel ports (undefined: leave unnamed). */
  adminPortName: string | undefined;
  tunnelPortName: string | undefined;
  /** Every port the sidecar takes over, named then redirected: the sidecar's DETOUR_PORTS value. */
  taken: TakenOverPort[];
  warnings: string[];
}

export interface PortRequest {
  /** Names from the configuration. */
  configured: readonly string[];
  /** Value of the `detour.dev/ports` annotation, if any. */
  annotation?: string;
  /** Value of the `detour.dev/iptables` annotation, if any. */
  iptables?: string;
}

function allContainers(pod: Pod): Container[] {
  return [...pod.spec.containers, ...(Array.isArray(pod.spec.initContainers) ? pod.spec.initContainers : [])];
}

function portsOf(c: Container) {
  return Array.isArray(c.ports) ? c.ports : [];
}

function isTcp(protocol: string | undefined | null): boolean {
  return protocol === undefined || protocol === null || protocol === 'TCP';
}

/** A valid IANA service name (what Kubernetes requires of a port name). */
export function isValidPortName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_PORT_NAME_LENGTH && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) && !name.includes('--') && /[a-z]/.test(name);
}

/** `http` → `dt-http`; longer names are cut to 15 characters and made unique with a digit suffix. */
export function planRenamedPortName(name: string, taken: ReadonlySet<string>): string {
  const trim = (s: string) => s.replace(/-+$/, '');
  const base = trim((RENAMED_PORT_PREFIX + name).slice(0, MAX_PORT_NAME_LENGTH));
  if (!taken.has(base) && isValidPortName(base)) return base;
  for (let i = 2; ; i++) {
    const suffix = String(i);
    const candidate = trim(base.slice(0, MAX_PORT_NAME_LENGTH - suffix.length)) + suffix;
    if (!taken.has(candidate) && isValidPortName(candidate)) return candidate;
  }
}

function splitList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export function planPorts(pod: Pod, request: PortRequest): PortPlan {
  const warnings: string[] = [];
  const usedNumbers = new Set<number>();
  const usedNames = new Set<string>();
  for (const c of allContainers(pod)) {
    for (const p of portsOf(c)) {
      usedNumbers.add(p.containerPort);
      if (typeof p.name === 'string' && p.name !== '') usedNames.add(p.name);
    }
  }

  const fromAnnotation = splitList(request.annotation);
  for (const n of fromAnnotation) if (!isValidPortName(n)) warnings.push(`ignored invalid port name "${n.slice(0, 20)}" in detour.dev/ports`);
  const wanted = new Set([...request.configured, ...fromAnnotation.filter(isValidPortName)]);

  // Named takeovers, first container wins a name.
  const claimed: Omit<NamedTakeover, 'renamedTo' | 'listenPort'>[] = [];
  pod.spec.containers.forEach((c, containerIndex) => {
    portsOf(c).forEach((p, portIndex) => {
      if (typeof p.name !== 'string' || !wanted.has(p.name)) return;
      if (!isTcp(p.protocol)) { warnings.push(`port ${p.name} of ${c.name} is ${p.protocol}; only TCP ports can be taken over`); return; }
      if (claimed.some((t) => t.name === p.name)) { warnings.push(`port ${p.name} of ${c.name} was not taken over: container ${claimed.find((t) => t.name === p.name)!.container} has it too`); return; }
      claimed.push({ containerIndex, portIndex, container: c.name, name: p.name, appPort: p.containerPort });
    });
  });
  for (const n of fromAnnotation) {
    if (isValidPortName(n) && !claimed.some((t) => t.name === n)) warnings.push(`no TCP container port named ${n} (from detour.dev/ports)`);
  }

  // Numeric redirects (iptables opt-in).
  const redirectPorts: number[] = [];
  const optIn = parseIptablesAnnotation(request.iptables);
  const namedPorts = new Set(claimed.map((t) => t.appPort));
  if (optIn.mode === 'all') {
    for (const c of pod.spec.containers) for (const p of portsOf(c)) {
      if (isTcp(p.protocol) && !namedPorts.has(p.containerPort) && !redirectPorts.includes(p.containerPort)) redirectPorts.push(p.containerPort);
    }
  } else if (optIn.mode === 'ports') {
    for (const item of optIn.invalid) warnings.push(`ignored "${item}" in detour.dev/iptables: not a port number`);
    for (const n of optIn.ports) {
      if (namedPorts.has(n)) { warnings.push(`port ${n} is already taken over by name; not redirected`); continue; }
      redirectPorts.push(n);
    }
  }
  for (const n of redirectPorts) usedNumbers.add(n);

  const allocate = (start: number): number => {
    let n = start;
    while (usedNumbers.has(n)) n++;
    usedNumbers.add(n);
    return n;
  };
  const adminPort = allocate(SIDECAR_ADMIN_PORT);
  const tunnelPort = allocate(SIDECAR_TUNNEL_PORT);
  let next = SIDECAR_PROXY_PORT_FIRST;
  const named: NamedTakeover[] = claimed.map((t) => {
    const listenPort = allocate(next);
    next = listenPort + 1;
    const renamedTo = planRenamedPortName(t.name, usedNames);
    usedNames.add(renamedTo);
    return { ...t, renamedTo, listenPort };
  });
  const redirected = redirectPorts.map((appPort) => {
    const listenPort = allocate(next);
    next = listenPort + 1;
    return { appPort, listenPort };
  });
  if (adminPort !== SIDECAR_ADMIN_PORT || tunnelPort !== SIDECAR_TUNNEL_PORT) {
    warnings.push(`the app uses Detour's default ports; the sidecar uses admin ${adminPort} and tunnel ${tunnelPort}`);
  }
  const freeName = (n: string) => (usedNames.has(n) || named.some((t) => t.name === n) ? undefined : n);
  const taken: TakenOverPort[] = [
    ...named.map((t) => ({ name: t.name, appPort: t.appPort, listenPort: t.listenPort })),
    ...redirected.map((r) => ({ appPort: r.appPort, listenPort: r.listenPort })),
  ];
  return { named, redirected, adminPort, tunnelPort, adminPortName: freeName(ADMIN_PORT_NAME), tunnelPortName: freeName(TUNNEL_PORT_NAME), taken, warnings };
}
