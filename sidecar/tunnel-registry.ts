// The developer tunnels connected to this sidecar, by intercept. The router asks it for the tunnel
// of a matched intercept; a tunnel is only ever registered under the intercepts its token matched.

import type { ClientHttp2Session } from 'node:http2';

export interface TunnelPeer {
  id: number;
  /** Intercepts (`namespace/name`) whose tokenHash the tunnel's token matched. */
  intercepts: ReadonlySet<string>;
  tokenHash: string;
  /** The HTTP/2 session inside the WebSocket; the sidecar is the client. */
  session: ClientHttp2Session;
  remoteAddress: string;
  connectedAt: number;
  /** Ends the tunnel (WebSocket close code and reason). */
  close: (code: number, reason: string) => void;
}

export type RegistryListener = () => void;

export class TunnelRegistry {
  private readonly byIntercept = new Map<string, TunnelPeer[]>();
  private readonly peers = new Set<TunnelPeer>();
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

  remove(peer: TunnelPeer): void {
    if (!this.peers.delete(peer)) return;
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
      if (!p.session.closed && !p.session.destroyed) return p;
    }
    return undefined;
  }

  count(intercept: string): number {
    return this.byIntercept.get(intercept)?.length ?? 0;
  }

  all(): TunnelPeer[] {
    return [...this.peers];
  }

  /** Intercepts with at least one tunnel, with the number of tunnels. */
  counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [i, list] of this.byIntercept) out.set(i, list.length);
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
