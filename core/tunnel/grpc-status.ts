// How the sidecar's own errors (no upstream, Reject, a developer who went away) look to a gRPC
// client: a gRPC status, not a bare HTTP error, so the client reads the reason. Pure functions.
// References: gRPC over HTTP/2 (PROTOCOL-HTTP2.md, "Responses", percent-encoded grpc-message) and
// "HTTP to gRPC Status Code Mapping" (http-grpc-status-mapping.md).

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';

/** gRPC status codes used here (google.rpc.Code). */
export const GRPC_STATUS = { UNKNOWN: 2, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12, RESOURCE_EXHAUSTED: 8 } as const;

/** Whether a request is a gRPC call (`content-type: application/grpc` or `application/grpc+…`/`;…`). */
export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  const ct = headers['content-type'];
  if (typeof ct !== 'string') return false;
  const lower = ct.toLowerCase();
  return lower === 'application/grpc' || lower.startsWith('application/grpc+') || lower.startsWith('application/grpc;');
}

/** The gRPC status a client would derive from an HTTP status (the mapping gRPC documents for proxies). */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400: return GRPC_STATUS.INTERNAL;
    case 401: return GRPC_STATUS.UNAUTHENTICATED;
    case 403: return GRPC_STATUS.PERMISSION_DENIED;
    case 404: return GRPC_STATUS.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GRPC_STATUS.UNAVAILABLE;
    case 431: return GRPC_STATUS.RESOURCE_EXHAUSTED;
    default: return GRPC_STATUS.UNKNOWN;
  }
}

/** `grpc-message` encoding: UTF-8, bytes outside printable ASCII and `%` percent-encoded. */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The grpc-status / grpc-message pair for a sidecar error. */
export function buildGrpcStatusHeaders(httpStatus: number, reason: string): OutgoingHttpHeaders {
  return { 'grpc-status': String(grpcStatusForHttp(httpStatus)), 'grpc-message': encodeGrpcMessage(reason) };
}
