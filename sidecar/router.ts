// The sidecar's routing state: the table being served, compiled per listener, swapped atomically
// (one reference assignment), and the per-request decision combining the match with the tunnels.

import { compileRoutes, headerLookup, matchRoute, type CompiledRoute, type CompiledRoutes, type NodeHeaders } from '../core/routing/match.js';
import type { RoutingTable, WorkloadRef } from '../core/routing/table.js';
import { emptyRoutingTable, isNewerTable } from '../core/routing/table.js';
import type { TakenOverPort } from '../core/sidecar-config.js';
import type { TunnelPeer, TunnelRegistry } from './tunnel-registry.js';

export type Decision =
  | { kind: 'app' }
  | { kind: 'fallback'; route: CompiledRoute }
  /** `reason` is for the end client and names nothing; `detail` names the intercept, for logs. */
  | { kind: 'reject'; route: CompiledRoute; reason: string; detail: string }
  | { kind: 'developer'; route: CompiledRoute; tunnel: TunnelPeer }
  | { kind: 'mirror'; route: CompiledRoute; tunnel: TunnelPeer };

const APP: Decision = Object.freeze({ kind: 'app' });

/**
 * What end clients read in `X-Detour-Reason` and the body of an answer the sidecar makes itself.
 * Generic on purpose: which intercepts exist and who holds them is nobody else's business; the
 * detail goes to the sidecar's log (and the developer's CLI sees its own failures).
 */
export const CLIENT_REASON = {
  rejected: 'service unavailable',
  upstream: 'upstream unavailable',
} as const;

interface RouterState {
  table: RoutingTable;
  /** appPort → routes for that taken-over port. */
  byAppPort: Map<number, CompiledRoutes>;
}

export function planRouterState(table: RoutingTable, ports: readonly TakenOverPort[]): RouterState {
  const byAppPort = new Map<number, CompiledRoutes>();
  for (const p of ports) byAppPort.set(p.appPort, compileRoutes(table, { name: p.name, appPort: p.appPort }));
  return { table, byAppPort };
}

export interface RouterDeps {
  ports: readonly TakenOverPort[];
  registry: TunnelRegistry;
  workload: WorkloadRef;
  now: () => number;
}

export class Router {
  private state: RouterState;

  constructor(private readonly deps: RouterDeps) {
    this.state = planRouterState(emptyRoutingTable(deps.workload), deps.ports);
  }

  get table(): RoutingTable {
    return this.state.table;
  }

  /** Serves `table` from the next request on, if it is newer. Returns whether it was taken. */
  setTable(table: RoutingTable): boolean {
    if (!isNewerTable(this.state.table, table)) return false;
    this.state = planRouterState(table, this.deps.ports);
    return true;
  }

  /**
   * The decision for one request (path with query, Node's parsed header object) for the taken-over
   * port whose app listens on `appPort`. No allocation on the no-route path: the match input is only
   * built when the port has routes.
   */
  decide(appPort: number, path: string, headers: NodeHeaders): Decision {
    const routes = this.state.byAppPort.get(appPort);
    if (routes === undefined || routes.length === 0) return APP;
    return this.decideAmong(routes, path, headerLookup(headers));
  }

  /** `decide` with a header lookup (lower-case name → value as Node would join it) instead of a header object. */
  decideWith(appPort: number, path: string, header: (lowerCaseName: string) => string | undefined): Decision {
    const routes = this.state.byAppPort.get(appPort);
    if (routes === undefined || routes.length === 0) return APP;
    return this.decideAmong(routes, path, header);
  }

  private decideAmong(routes: CompiledRoutes, path: string, header: (lowerCaseName: string) => string | undefined): Decision {
    const route = matchRoute(routes, { path, header }, this.deps.now());
    if (route === undefined) return APP;
    const tunnel = this.deps.registry.pick(route.intercept);
    if (tunnel !== undefined) return route.route.mode === 'Mirror' ? { kind: 'mirror', route, tunnel } : { kind: 'developer', route, tunnel };
    if (route.route.fallback === 'Reject' && route.route.mode === 'Steal') {
      return { kind: 'reject', route, reason: CLIENT_REASON.rejected, detail: `intercept ${route.intercept} has no developer connected (fallback: Reject)` };
    }
    return { kind: 'fallback', route };
  }
}
