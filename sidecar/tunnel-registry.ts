// The developer tunnels connected to this sidecar, by intercept. The router asks it for the tunnel
// of a matched intercept; a tunnel is only ever registered under the intercepts its token matched.
// A draining tunnel (the developer is leaving, or the sidecar revoked it) stays here until it closes
// so its in-flight requests are still accounted for, but is never picked for a new request.

import type { ClientHttp2Session } from 'node:http2';
import type { TunnelMode } from '../core/tunnel/negotiation.js';

export interface TunnelPeer {
  id: number;
  /** Intercepts (`namespace/name`) whose tokenHash the tunnel's token matched. */
  intercepts: ReadonlySet<string>;
  tokenHash: string;
  /** The HTTP/2 session inside the WebSocket; the sidecar is the client. */
  session: ClientHttp2Session;
  /** Negotiated in the upgrade: v2 sends HTTP/1 requests as their own bytes, v1 as HTTP/2 requests. */
  mode: TunnelMode;
  remoteAddress: string;
  connectedAt: number;
  /** Ends the tunnel at once (WebSocket close code and reason): in-flight requests fail with 502. */
  close: (code: number, reason: string) => void;
  /** Ends the tunnel gracefully: no new requests, in-flight ones finish (bounded), then `close(code, reason)`. */
  retire: (code: number, reason: string) => boolean;
}

export type RegistryListener = () => void;

export class TunnelRegistry {
  private readonly byIntercept = new Map<string, TunnelPeer[]>();
  private readonly peers = new Set<TunnelPeer>();
  private readonly draining = new Set<TunnelPeer>();
  private readonly listeners = new Set<RegistryListener>();

  add(peer: TunnelPeer): void {
    this.peers.add(peer);
    for (const i of peer.intercepts) {
      const list = this.byIntercept.get(i) ?? [];
      list.push(peer);
      this.byIntercept.set(i, list);
    }
    this.emit();
  }

  /** From now on `peer` gets no new requests (it stays listed until `remove`). Returns false if it already drained or left. */
  drain(peer: TunnelPeer): boolean {
    if (!this.peers.has(peer) || this.draining.has(peer)) return false;
    this.draining.add(peer);
    this.emit();
    return true;
  }

  isDraining(peer: TunnelPeer): boolean {
    return this.draining.has(peer);
  }

  remove(peer: TunnelPeer): void {
    if (!this.peers.delete(peer)) return;
    this.draining.delete(peer);
    for (const i of peer.intercepts) {
      const list = (this.byIntercept.get(i) ?? []).filter((p) => p !== peer);
      if (list.length > 0) this.byIntercept.set(i, list);
      else this.byIntercept.delete(i);
    }
    this.emit();
  }

  /** The newest usable tunnel of the intercept (a newer `detour` session takes over from an older one). */
  pick(intercept: string): TunnelPeer | undefined {
    const list = this.byIntercept.get(intercept);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const p = list[i]!;
      if (!p.session.closed && !p.session.destroyed && !this.draining.has(p)) return p;
    }
    return undefined;
  }

  /** Tunnels of the intercept that take new requests. */
  count(intercept: string): number {
    return this.byIntercept.get(intercept)?.filter((p) => !this.draining.has(p)).length ?? 0;
  }

  /** Intercepts with any tunnel still connected, draining ones included. */
  intercepts(): Set<string> {
    return new Set(this.byIntercept.keys());
  }

  all(): TunnelPeer[] {
    return [...this.peers];
  }

  /** Intercepts with at least one tunnel that takes new requests, with the number of such tunnels. */
  counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [i, list] of this.byIntercept) {
      const n = list.filter((p) => !this.draining.has(p)).length;
      if (n > 0) out.set(i, n);
    }
    return out;
  }

  onChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}
