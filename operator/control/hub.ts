// The operator's side of the control channel, minus sockets: which sidecars are connected for
// which workload, the routing table of each workload (versioned within the leader's epoch), what
// the sidecars acknowledged and reported. Tables are computed from the routes the reconciler sets.

import type { Route, RoutingTable, WorkloadRef } from '../../core/routing/table.js';
import type { InterceptReport, TableMessage } from '../../core/control/protocol.js';
import { canonicalJson } from '../canonical-json.js';

export interface SidecarConnection {
  id: number;
  pod: string;
  workload: WorkloadRef;
  /** The negotiated control protocol (core/control/negotiation.ts); 1 for a 0.1.x sidecar. */
  protocol?: number;
  /** The sidecar's Detour version, from its hello (protocol ≥ 2). */
  build?: string;
  send(msg: TableMessage): void;
  close(code: number, reason: string): void;
  acked?: { epoch: string; version: number };
  report: Record<string, InterceptReport>;
}

export function workloadKey(w: WorkloadRef): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

/**
 * The table's routes in a stable order, so equal sets compare equal: older first (`createdAt`),
 * then by intercept key, the order in which overlapping routes of one mode take precedence in the
 * sidecar (core/routing/match.ts decides by the same fields, not by table position).
 */
export function buildRoutes(routes: Iterable<Route>): Route[] {
  const at = (r: Route) => r.createdAt ?? '\uffff';
  return [...routes].sort((a, b) => (at(a) !== at(b) ? (at(a) < at(b) ? -1 : 1) : a.intercept < b.intercept ? -1 : a.intercept > b.intercept ? 1 : 0));
}

interface RouteEntry {
  workload: WorkloadRef;
  workloadKey: string;
  route: Route;
  /** canonicalJson(route): equal routes have equal signatures. */
  signature: string;
}

export class ControlHub {
  private readonly conns = new Map<string, Set<SidecarConnection>>();
  private readonly tables = new Map<string, RoutingTable>();
  /** intercept key → its route. */
  private readonly routes = new Map<string, RouteEntry>();
  /** workload key → intercept key → route: a table is rebuilt from its own workload's routes only. */
  private readonly byWorkload = new Map<string, Map<string, Route>>();
  private publishing = false;
  epoch = '';

  constructor(private readonly onChange: (workload: WorkloadRef) => void, private readonly onConnections?: (n: number) => void) {}

  /** Starts a leader term: a new epoch, no routes, nothing published until `startPublishing`. */
  reset(epoch: string): void {
    this.epoch = epoch;
    this.routes.clear();
    this.byWorkload.clear();
    this.tables.clear();
    this.publishing = false;
  }

  /** After the initial reconcile pass: push every workload's table to its sidecars. */
  startPublishing(): void {
    this.publishing = true;
    for (const set of this.conns.values()) for (const c of set) this.sendTable(c);
  }

  /**
   * Sets (or, with undefined, withdraws) an intercept's route. Costs O(routes of its workload) when
   * the route changed and O(size of the route) when it did not: the previous route is compared by
   * signature, not by rebuilding and serialising the table.
   */
  setRoute(interceptKey: string, workload: WorkloadRef, route: Route | undefined): void {
    const key = workloadKey(workload);
    const prev = this.routes.get(interceptKey);
    const signature = route ? canonicalJson(route) : undefined;
    const unchanged = prev ? prev.workloadKey === key && prev.signature === signature : signature === undefined;
    if (unchanged && this.tables.has(key)) return;
    if (prev) this.dropRoute(interceptKey, prev);
    if (route) {
      this.routes.set(interceptKey, { workload, workloadKey: key, route, signature: signature! });
      let set = this.byWorkload.get(key);
      if (!set) this.byWorkload.set(key, (set = new Map()));
      set.set(interceptKey, route);
    }
    if (prev && prev.workloadKey !== key) this.recompute(prev.workload);
    this.recompute(workload);
  }

  removeRoute(interceptKey: string): void {
    const prev = this.routes.get(interceptKey);
    if (!prev) return;
    this.dropRoute(interceptKey, prev);
    this.recompute(prev.workload);
  }

  private dropRoute(interceptKey: string, prev: RouteEntry): void {
    this.routes.delete(interceptKey);
    const set = this.byWorkload.get(prev.workloadKey);
    set?.delete(interceptKey);
    if (set?.size === 0) this.byWorkload.delete(prev.workloadKey);
  }

  table(workload: WorkloadRef): RoutingTable {
    return this.tables.get(workloadKey(workload)) ?? { version: 0, epoch: this.epoch, workload, routes: [] };
  }

  /** Called only when the workload's routes changed (or it has no table yet): a new version. */
  private recompute(workload: WorkloadRef): void {
    const key = workloadKey(workload);
    const routes = buildRoutes(this.byWorkload.get(key)?.values() ?? []);
    const current = this.table(workload);
    const next: RoutingTable = { version: current.version + 1, epoch: this.epoch, workload, routes };
    this.tables.set(key, next);
    if (this.publishing) for (const c of this.conns.get(key) ?? []) this.sendTable(c);
  }

  private sendTable(c: SidecarConnection): void {
    c.send({ type: 'table', table: this.table(c.workload) });
  }

  add(c: SidecarConnection): void {
    const key = workloadKey(c.workload);
    let set = this.conns.get(key);
    if (!set) this.conns.set(key, (set = new Set()));
    set.add(c);
    this.onConnections?.(this.count());
    if (this.publishing) this.sendTable(c);
    // No onChange: a new connection has acknowledged nothing and reported no clients, so `stats`
    // is the same as before it came; its first ack of this epoch notifies.
  }

  remove(c: SidecarConnection): void {
    const set = this.conns.get(workloadKey(c.workload));
    if (!set?.delete(c)) return;
    this.onConnections?.(this.count());
    this.onChange(c.workload);
  }

  /** Notifies only when the ack changes `stats` (the first ack of this epoch, or one from another epoch). */
  ack(c: SidecarConnection, epoch: string, version: number): void {
    const wasReady = c.acked?.epoch === this.epoch;
    c.acked = { epoch, version };
    if (wasReady !== (epoch === this.epoch)) this.onChange(c.workload);
  }

  report(c: SidecarConnection, intercepts: Record<string, InterceptReport>): void {
    const changed = JSON.stringify(Object.entries(c.report).map(([k, v]) => [k, v.clients])) !== JSON.stringify(Object.entries(intercepts).map(([k, v]) => [k, v.clients]));
    c.report = intercepts;
    if (changed) this.onChange(c.workload);
  }

  /** Sidecars of the workload serving a table of this epoch, and developers connected to the intercept. */
  stats(workload: WorkloadRef, interceptKey: string): { ready: number; clients: number } {
    let ready = 0;
    let clients = 0;
    for (const c of this.conns.get(workloadKey(workload)) ?? []) {
      if (c.acked?.epoch === this.epoch) ready++;
      clients += c.report[interceptKey]?.clients ?? 0;
    }
    return { ready, clients };
  }

  /** The connected sidecars of a workload: pod, negotiated protocol and build version (from hello). */
  sidecars(workload: WorkloadRef): Array<{ pod: string; protocol?: number; build?: string }> {
    return [...this.conns.get(workloadKey(workload)) ?? []].map((c) => ({ pod: c.pod, ...(c.protocol !== undefined ? { protocol: c.protocol } : {}), ...(c.build !== undefined ? { build: c.build } : {}) }));
  }

  count(): number {
    let n = 0;
    for (const s of this.conns.values()) n += s.size;
    return n;
  }

  closeAll(code: number, reason: string): void {
    for (const set of this.conns.values()) for (const c of [...set]) c.close(code, reason);
  }
}
