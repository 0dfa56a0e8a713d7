// Tunnel protocol negotiation (issue #19's skew policy: CLI N works with sidecars N and N−1). The CLI
// offers every subprotocol it speaks, newest first, in `Sec-WebSocket-Protocol`; the sidecar picks the
// newest one it speaks and runs that tunnel in that mode. When there is no common version the sidecar
// refuses the upgrade with 426 and lists what it speaks in PROTOCOLS_HEADER, so the CLI can say which
// side to upgrade. Sidecars from before negotiation (v0.1.0 speaks only detour-tunnel.v1) complete the
// handshake without any subprotocol instead; the CLI reads that as "the sidecar is older". Pure.

import { TUNNEL_SUBPROTOCOL_V1, TUNNEL_SUBPROTOCOL_V2 } from './protocol.js';

/** What this build speaks, newest first (the CLI offers them in this order). */
export const TUNNEL_SUBPROTOCOLS: readonly string[] = [TUNNEL_SUBPROTOCOL_V2, TUNNEL_SUBPROTOCOL_V1];

/** How the sidecar sends HTTP/1 requests on a tunnel: as HTTP/2 requests (v1) or as their own bytes (v2). */
export type TunnelMode = 'v1' | 'v2';

/** The version number of `detour-tunnel.vN`, undefined for anything else. */
export function subprotocolVersion(protocol: string): number | undefined {
  const m = /^detour-tunnel\.v(\d{1,4})$/.exec(protocol.trim());
  return m ? Number(m[1]) : undefined;
}

export function tunnelModeOf(protocol: string): TunnelMode | undefined {
  return protocol === TUNNEL_SUBPROTOCOL_V2 ? 'v2' : protocol === TUNNEL_SUBPROTOCOL_V1 ? 'v1' : undefined;
}

/** The sidecar's choice: the newest of `speaks` (newest first) that the client offered. */
export function pickSubprotocol(offered: ReadonlySet<string>, speaks: readonly string[] = TUNNEL_SUBPROTOCOLS): string | undefined {
  return speaks.find((p) => offered.has(p));
}

/** `Sec-WebSocket-Protocol` values → the list (the header may be repeated or comma-joined). */
export function parseProtocolList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : value).split(',').map((p) => p.trim()).filter((p) => p !== '');
}

function versions(list: readonly string[]): number[] {
  return list.map(subprotocolVersion).filter((v): v is number => v !== undefined);
}

/** Which side has to move for two lists of subprotocols to meet. */
export type Upgrade = 'cli' | 'sidecar' | 'unknown';

export function planUpgrade(cli: readonly string[], sidecar: readonly string[] | undefined): Upgrade {
  // A sidecar that answered without any subprotocol predates negotiation: it is the older side.
  if (sidecar === undefined) return 'sidecar';
  const c = versions(cli);
  const s = versions(sidecar);
  if (c.length === 0 || s.length === 0) return 'unknown';
  if (Math.max(...s) < Math.min(...c)) return 'sidecar';
  if (Math.min(...s) > Math.max(...c)) return 'cli';
  return 'unknown';
}

/**
 * What the CLI says when it cannot talk to a sidecar. `sidecar`: what the sidecar listed in its 426
 * (PROTOCOLS_HEADER), or undefined when it completed the handshake without a subprotocol.
 */
export function explainProtocolMismatch(cli: readonly string[], sidecar: readonly string[] | undefined): { upgrade: Upgrade; message: string } {
  const upgrade = planUpgrade(cli, sidecar);
  const ours = cli.join(', ');
  const theirs = sidecar === undefined ? 'none of them (it predates tunnel protocol negotiation)' : sidecar.join(', ');
  const facts = `this detour CLI speaks tunnel protocol ${ours}; the sidecar speaks ${theirs}`;
  if (upgrade === 'cli') return { upgrade, message: `the sidecar is newer than this detour CLI supports (${facts}): upgrade the detour CLI` };
  if (upgrade === 'sidecar') return { upgrade, message: `the sidecar is older than this detour CLI supports (${facts}): restart the workload's pods so they get the current sidecar (kubectl rollout restart), or use an older detour CLI` };
  return { upgrade, message: `no common tunnel protocol (${facts}): use a detour CLI from the same release as the sidecar` };
}

/** The sidecar's 426 reason when the client offered nothing it speaks. */
export function explainRefusedOffer(offered: readonly string[], speaks: readonly string[] = TUNNEL_SUBPROTOCOLS): string {
  const what = offered.length === 0 ? 'no subprotocol' : offered.join(', ');
  const upgrade = planUpgrade(offered, speaks);
  const hint = upgrade === 'cli' ? 'upgrade the detour CLI' : upgrade === 'sidecar' ? 'this sidecar is older than the client: restart the pod to get a newer sidecar' : 'use a detour CLI from the same release as the sidecar';
  return `this sidecar speaks tunnel protocol ${speaks.join(', ')}; the client offered ${what}: ${hint}`;
}
