// The routing table: what the operator computes per workload and pushes to every sidecar of it.
// Carries token hashes, never tokens.

export interface HeaderRule {
  /** HTTP header name (case-insensitive); for gRPC the metadata key. */
  name: string;
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface RouteMatch {
  headers: HeaderRule[];
  pathPrefix?: string;
}

/** Outbound: routes no request; the Intercept exists for its token (outbound streams, `detour run`). */
export type InterceptMode = 'Steal' | 'Mirror' | 'Outbound';
export type FallbackPolicy = 'App' | 'Reject';

export interface Route {
  /** `namespace/name` of the Intercept this route belongs to. */
  intercept: string;
  /** The app's container port as the Intercept names it: a port name (`http`) or a number. */
  port: string | number;
  /** Absent: a global intercept (every request on the port). */
  match?: RouteMatch;
  mode: InterceptMode;
  fallback: FallbackPolicy;
  /** Lower-case hex SHA-256 of the Intercept's tunnel token. */
  tokenHash: string;
  /** RFC 3339; after it the sidecar stops routing this intercept even if no new table arrives. */
  expiresAt?: string;
}

export interface WorkloadRef {
  kind: 'Deployment' | 'StatefulSet' | 'ReplicaSet';
  namespace: string;
  name: string;
}

export interface RoutingTable {
  /** Monotonic per workload within one operator leader term; sidecars ignore a lower version from the same epoch. */
  version: number;
  /** Changes when a new leader starts numbering; a sidecar accepts any version of a new epoch. */
  epoch: string;
  workload: WorkloadRef;
  routes: Route[];
}

export function emptyRoutingTable(workload: WorkloadRef): RoutingTable {
  return { version: 0, epoch: '', workload, routes: [] };
}
