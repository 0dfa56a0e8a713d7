// Control channel versions, negotiated with the WebSocket subprotocol list (RFC 6455 §1.9).
//
// - Protocol 1 is what Detour 0.1.x speaks: no subprotocol, table/ack/report messages.
// - Protocol 2 (Detour 0.2.x) adds the `hello` message (each side names its build version first).
//
// A sidecar offers every protocol it speaks, newest first (`detour-control.v2, detour-control.v1`);
// the operator picks the newest it serves, answers with it and, from protocol 2 on, sends a hello
// naming it first. A request without a subprotocol is protocol 1 (a 0.1.x sidecar). The sidecar
// speaks protocol 1 until that hello arrives: a 0.1.x operator's ws server echoes the first offered
// subprotocol without knowing it (ws's default), so the handshake answer alone proves nothing. The operator serves its own release's protocol and the one of the
// release before it (skew policy: operator N ↔ sidecars N and N−1); a sidecar outside that range
// is refused with HTTP 426 and a reason that says which side to upgrade or which pod to restart.
// Pure.

import { DETOUR_VERSION } from '../version/version.js';

export const CONTROL_SUBPROTOCOL_PREFIX = 'detour-control.v';

/** The newest control protocol this build speaks. */
export const CONTROL_PROTOCOL = 2;

/** The oldest protocol this build's operator still serves, and its sidecar still falls back to. */
export const CONTROL_PROTOCOL_MIN = 1;

/** The release line that introduced each protocol (for messages). */
export const CONTROL_PROTOCOL_RELEASES: Readonly<Record<number, string>> = { 1: '0.1.x', 2: '0.2.x' };

export interface ProtocolRange {
  min: number;
  max: number;
}

export const SUPPORTED_CONTROL_PROTOCOLS: ProtocolRange = { min: CONTROL_PROTOCOL_MIN, max: CONTROL_PROTOCOL };

export function controlSubprotocol(version: number): string {
  return `${CONTROL_SUBPROTOCOL_PREFIX}${version}`;
}

/** What a sidecar offers: newest first. Protocol 1 has a name too, for operators of 0.2.x and later. */
export function buildOfferedSubprotocols(range: ProtocolRange = SUPPORTED_CONTROL_PROTOCOLS): string[] {
  const out: string[] = [];
  for (let v = range.max; v >= range.min; v--) out.push(controlSubprotocol(v));
  return out;
}

/** `detour-control.v2` → 2; anything else → undefined. */
export function parseControlSubprotocol(name: string): number | undefined {
  if (!name.startsWith(CONTROL_SUBPROTOCOL_PREFIX)) return undefined;
  const digits = name.slice(CONTROL_SUBPROTOCOL_PREFIX.length);
  return /^[1-9]\d{0,3}$/.test(digits) ? Number(digits) : undefined;
}

function describeProtocols(versions: number[]): string {
  const named = versions.map((v) => `${v}${CONTROL_PROTOCOL_RELEASES[v] ? ` (Detour ${CONTROL_PROTOCOL_RELEASES[v]})` : ''}`);
  return named.join(', ');
}

export type Negotiated =
  | { ok: true; protocol: number; /** The subprotocol to answer with; undefined for a request that offered none (protocol 1). */ subprotocol?: string }
  | { ok: false; side: 'sidecar' | 'operator'; reason: string };

export interface NegotiationContext {
  /** `namespace/pod` of the sidecar, to name what to restart. */
  pod?: string;
  /** `kubectl rollout restart …` for the pod's workload, when known. */
  restart?: string;
  operatorVersion?: string;
}

/**
 * The operator's choice from a sidecar's offer (the Sec-WebSocket-Protocol values, in order).
 * `ok: false` says who must change: `sidecar` (too old: restart the pod to get the current sidecar)
 * or `operator` (the sidecar is newer than this operator serves: upgrade the operator).
 */
export function planControlProtocol(offered: readonly string[], range: ProtocolRange = SUPPORTED_CONTROL_PROTOCOLS, ctx: NegotiationContext = {}): Negotiated {
  const operator = `this operator (Detour ${ctx.operatorVersion ?? DETOUR_VERSION}) serves control protocols ${describeProtocols(span(range))}`;
  const pod = ctx.pod ? `the sidecar of pod ${ctx.pod}` : 'the sidecar';
  if (offered.length === 0) {
    if (range.min <= 1) return { ok: true, protocol: 1 };
    return { ok: false, side: 'sidecar', reason: `${pod} speaks control protocol ${describeProtocols([1])}, older than ${operator}: restart the pod${ctx.restart ? ` (${ctx.restart})` : ''} so it gets the current sidecar` };
  }
  const versions = offered.map(parseControlSubprotocol).filter((v): v is number => v !== undefined);
  const usable = versions.filter((v) => v >= range.min && v <= range.max);
  if (usable.length > 0) {
    const protocol = Math.max(...usable);
    return { ok: true, protocol, subprotocol: controlSubprotocol(protocol) };
  }
  if (versions.length > 0 && Math.min(...versions) > range.max) {
    return { ok: false, side: 'operator', reason: `${pod} speaks control protocols ${describeProtocols(versions)}, newer than ${operator}: upgrade the operator (helm upgrade) to the sidecar's release, or roll the workload back` };
  }
  const what = versions.length > 0 ? `control protocols ${describeProtocols(versions)}` : `no Detour control protocol (offered ${offered.slice(0, 4).map((o) => JSON.stringify(o.slice(0, 40))).join(', ')})`;
  return { ok: false, side: 'sidecar', reason: `${pod} speaks ${what}, older than ${operator}: restart the pod${ctx.restart ? ` (${ctx.restart})` : ''} so it gets the current sidecar` };
}

function span(range: ProtocolRange): number[] {
  const out: number[] = [];
  for (let v = range.min; v <= range.max; v++) out.push(v);
  return out;
}
