// Control channel between the operator (server) and sidecars (clients): JSON text frames over a
// WebSocket at ws://<operator>:OPERATOR_CONTROL_PORT/control. The sidecar authenticates the upgrade
// with `Authorization: Bearer <projected service-account token, audience "detour">`; the operator
// checks it with TokenReview and takes the pod name from the token's bound-pod claim. The version
// of the protocol is negotiated with the WebSocket subprotocol list (core/control/negotiation.ts);
// `hello` exists from protocol 2 on and is never sent on a protocol 1 connection.

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

/** Both directions, protocol ≥ 2, first message: the sender's Detour build version. */
export interface HelloMessage {
  type: 'hello';
  /** DETOUR_VERSION of the sender. */
  version: string;
  /** The negotiated protocol, as the sender understood it. */
  protocol: number;
}

export type OperatorToSidecar = TableMessage | HelloMessage;
export type SidecarToOperator = AckMessage | ReportMessage | HelloMessage;

/** Validates a hello (either direction). */
export function parseHello(m: Record<string, unknown>): HelloMessage | { error: string } {
  if (typeof m.version !== 'string' || m.version.length === 0 || m.version.length > 64) return { error: 'hello.version must be a string of 1 to 64 characters' };
  if (!isCount(m.protocol, 9999)) return { error: 'hello.protocol must be an integer in 0..9999' };
  return { type: 'hello', version: m.version, protocol: m.protocol };
}

/** Bounds on what a sidecar may report: anything outside is refused, never summed into status. */
export const REPORT_LIMITS = {
  /** Intercept entries in one report (a workload rarely has more than a few). */
  maxIntercepts: 256,
  /** `namespace/name`: a namespace (63) and an object name (253). */
  maxKeyLength: 317,
  maxPodNameLength: 253,
  /** Developer connections per intercept on one replica. */
  maxClients: 10_000,
  maxEpochLength: 64,
} as const;

const KEY = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

function isCount(v: unknown, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

/** Validates a sidecar's message with bounds on every field; `error` says what was wrong. Pure. */
export function parseSidecarMessage(text: string): SidecarToOperator | { error: string } {
  let msg: unknown;
  try { msg = JSON.parse(text); } catch { return { error: 'not JSON' }; }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { error: 'not an object' };
  const m = msg as Record<string, unknown>;
  if (m.type === 'ack') {
    if (typeof m.epoch !== 'string' || m.epoch.length > REPORT_LIMITS.maxEpochLength) return { error: 'ack.epoch must be a string of at most 64 characters' };
    if (!isCount(m.version)) return { error: 'ack.version must be a non-negative integer' };
    return { type: 'ack', epoch: m.epoch, version: m.version };
  }
  if (m.type === 'hello') return parseHello(m);
  if (m.type === 'report') {
    if (typeof m.pod !== 'string' || m.pod.length > REPORT_LIMITS.maxPodNameLength) return { error: 'report.pod must be a string of at most 253 characters' };
    const i = m.intercepts;
    if (typeof i !== 'object' || i === null || Array.isArray(i)) return { error: 'report.intercepts must be an object' };
    const entries = Object.entries(i);
    if (entries.length > REPORT_LIMITS.maxIntercepts) return { error: `report.intercepts has more than ${REPORT_LIMITS.maxIntercepts} entries` };
    const intercepts: Record<string, InterceptReport> = {};
    for (const [key, r] of entries) {
      if (key.length > REPORT_LIMITS.maxKeyLength || !KEY.test(key)) return { error: `report.intercepts key ${JSON.stringify(key.slice(0, 40))} is not namespace/name` };
      if (typeof r !== 'object' || r === null || Array.isArray(r)) return { error: `report.intercepts[${key}] must be an object` };
      const { clients, routed, fallback } = r as Record<string, unknown>;
      if (!isCount(clients, REPORT_LIMITS.maxClients)) return { error: `report.intercepts[${key}].clients must be an integer in 0..${REPORT_LIMITS.maxClients}` };
      if (!isCount(routed)) return { error: `report.intercepts[${key}].routed must be a non-negative integer` };
      if (!isCount(fallback)) return { error: `report.intercepts[${key}].fallback must be a non-negative integer` };
      intercepts[key] = { clients, routed, fallback };
    }
    return { type: 'report', pod: m.pod, intercepts };
  }
  return { error: `unknown message type ${JSON.stringify(m.type)?.slice(0, 40)}` };
}
