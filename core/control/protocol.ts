// Control channel between the operator (server) and sidecars (clients): JSON text frames over a
// WebSocket at ws://<operator>:OPERATOR_CONTROL_PORT/control. The sidecar authenticates the upgrade
// with `Authorization: Bearer <projected service-account token, audience "detour">`; the operator
// checks it with TokenReview and takes the pod name from the token's bound-pod claim.

import type { RoutingTable } from '../routing/table.js';

export const CONTROL_PATH = '/control';

/** operator → sidecar: the workload's full table (state, not a diff). */
export interface TableMessage {
  type: 'table';
  table: RoutingTable;
}

/** sidecar → operator: the table the sidecar now serves. */
export interface AckMessage {
  type: 'ack';
  epoch: string;
  version: number;
}

export interface InterceptReport {
  /** Developers (tunnels) connected for this intercept on this replica. */
  clients: number;
  /** Requests routed to the developer since the sidecar started. */
  routed: number;
  /** Matching requests that followed the fallback because no developer was connected. */
  fallback: number;
}

/** sidecar → operator: periodic and on-change status. */
export interface ReportMessage {
  type: 'report';
  pod: string;
  intercepts: Record<string, InterceptReport>;
}

export type OperatorToSidecar = TableMessage;
export type SidecarToOperator = AckMessage | ReportMessage;
