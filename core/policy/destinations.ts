// Outbound destinations a policy allows (pure): block wins over allow; with an allow list, only
// what it names. For the sidecar's outbound dialler (detour run), which checks the host asked for
// and the address it resolved to.

import { BlockList, isIP } from 'node:net';
import type { DestinationRule, OutboundRules, WithholdRules } from './types.js';
import { matchGlob } from './glob.js';

export interface Destination {
  /** The name asked for (a Service name, a host) or an address literal. */
  host: string;
  /** The address dialled, when resolved. */
  address?: string;
  port: number;
}

function inCidr(cidr: string, address: string): boolean {
  const [net, bits] = cidr.split('/');
  const family = isIP(net ?? '');
  if (family === 0 || family !== isIP(address)) return false;
  const list = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  list.addSubnet(net!, Number(bits ?? (family === 4 ? 32 : 128)), type);
  return list.check(address, type);
}

export function matchDestinationRule(r: DestinationRule, d: Destination): boolean {
  if (r.port !== undefined && r.port !== d.port) return false;
  if (r.cidr !== undefined) {
    const addresses = [d.address, isIP(d.host) ? d.host : undefined].filter((a): a is string => a !== undefined);
    if (!addresses.some((a) => inCidr(r.cidr!, a))) return false;
  }
  if (r.host !== undefined) {
    const host = d.host.toLowerCase().replace(/\.$/, '');
    const want = r.host.toLowerCase();
    if (!(host === want || (want.startsWith('*.') ? host.endsWith(want.slice(1)) : false))) return false;
  }
  return r.port !== undefined || r.cidr !== undefined || r.host !== undefined;
}

export type DestinationVerdict = { allowed: true } | { allowed: false; rule: string };

export function planDestination(rules: OutboundRules, d: Destination): DestinationVerdict {
  const blocked = (rules.block ?? []).findIndex((r) => matchDestinationRule(r, d));
  if (blocked !== -1) return { allowed: false, rule: `outbound.block[${blocked}]` };
  if (rules.allow && !rules.allow.some((r) => matchDestinationRule(r, d))) return { allowed: false, rule: 'outbound.allow' };
  return { allowed: true };
}

/** Whether detour env / detour run must leave this env variable out. */
export function isEnvWithheld(rules: readonly WithholdRules[], name: string): boolean {
  return rules.some((r) => (r.env ?? []).some((g) => matchGlob(g, name)));
}

export function isVolumeWithheld(rules: readonly WithholdRules[], name: string): boolean {
  return rules.some((r) => (r.volumes ?? []).includes(name));
}
