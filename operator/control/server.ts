// The control channel's WebSocket endpoint. The upgrade is authenticated before the socket is
// accepted: no valid token → HTTP 401/403 and the socket is closed; not the leader → 503; a
// sidecar whose control protocols this operator does not serve → 426 with what to upgrade or
// restart (core/control/negotiation.ts).

import { formatWorkload } from '../../core/workload-ref.js';
import { createServer, type IncomingMessage, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONTROL_PATH, parseSidecarMessage } from '../../core/control/protocol.js';
import { planControlProtocol, SUPPORTED_CONTROL_PROTOCOLS, type ProtocolRange } from '../../core/control/negotiation.js';
import { DETOUR_VERSION } from '../../core/version/version.js';
import type { Logger } from '../../core/logging.js';
import { describeApiError } from '../../core/errors.js';
import { AuthError, type SidecarIdentity } from './auth.js';
import type { ControlHub, SidecarConnection } from './hub.js';

export interface ControlServerDeps {
  hub: ControlHub;
  logger: Logger;
  authenticate(token: string): Promise<SidecarIdentity>;
  /** Only the leader accepts sidecars. */
  accepting(): boolean;
  pingIntervalMs?: number;
  /**
   * Serve TLS (wss://). The server starts without a certificate (handshakes fail, sidecars retry)
   * until `setControlCertificate` hands one over.
   */
  tls?: boolean;
  /** The control protocols served (default: this build's, SUPPORTED_CONTROL_PROTOCOLS). */
  protocols?: ProtocolRange;
  /** Default DETOUR_VERSION. */
  version?: string;
}

export type ControlServer = HttpServer | HttpsServer;

/** Swaps the serving certificate of a TLS control server; open connections keep theirs. */
export function setControlCertificate(server: ControlServer, pair: { certPem: string; keyPem: string }): void {
  if (!('setSecureContext' in server)) throw new Error('the control server was not built with tls');
  server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' });
}

function refuse(socket: Duplex, status: number, message: string): void {
  const text = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 426: 'Upgrade Required', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
}

/** What restarts the sidecar's pod, for a refusal. */
function restartHint(id: SidecarIdentity): string {
  const kind = id.workload.kind.toLowerCase();
  return kind === 'replicaset' ? `kubectl delete pod ${id.pod} -n ${id.namespace}` : `kubectl rollout restart ${kind}/${id.workload.name} -n ${id.namespace}`;
}

export function buildControlServer(deps: ControlServerDeps): ControlServer {
  const protocols = deps.protocols ?? SUPPORTED_CONTROL_PROTOCOLS;
  const version = deps.version ?? DETOUR_VERSION;
  /** The subprotocol chosen for a request (decided before handleUpgrade, answered by handleProtocols). */
  const chosen = new WeakMap<IncomingMessage, string>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20, handleProtocols: (_offered, req) => chosen.get(req) ?? false });
  let nextId = 1;
  const onRequest: RequestListener = (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end(`upgrade to a WebSocket at ${CONTROL_PATH}\n`);
  };
  const server: ControlServer = deps.tls ? createHttpsServer({ minVersion: 'TLSv1.2' }, onRequest) : createServer(onRequest);

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== CONTROL_PATH) return refuse(socket, 404, 'not found\n');
    if (!deps.accepting()) return refuse(socket, 503, 'not the leader\n');
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) return refuse(socket, 401, 'missing bearer token\n');
    deps.authenticate(m[1]!).then(
      (id) => {
        if (!deps.accepting()) return refuse(socket, 503, 'not the leader\n');
        const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
        const plan = planControlProtocol(offered, protocols, { pod: `${id.namespace}/${id.pod}`, restart: restartHint(id), operatorVersion: version });
        if (!plan.ok) {
          deps.logger.warn({ pod: `${id.namespace}/${id.pod}`, offered: offered.slice(0, 8).join(', '), upgrade: plan.side, why: plan.reason }, 'Refused a sidecar whose control protocol this operator does not serve');
          return refuse(socket, 426, `${plan.reason}\n`);
        }
        if (plan.subprotocol) chosen.set(req, plan.subprotocol);
        wss.handleUpgrade(req, socket, head, (ws) => accept(ws, id, plan.protocol));
      },
      (err: unknown) => {
        if (err instanceof AuthError) {
          deps.logger.warn({ status: err.status, why: err.message, remote: req.socket.remoteAddress }, 'Refused a control channel connection');
          return refuse(socket, err.status, `${err.message}\n`);
        }
        deps.logger.warn({ ...describeApiError(err) }, 'Failed to authenticate a control channel connection');
        refuse(socket, 503, 'authentication unavailable\n');
      },
    );
  });

  function accept(ws: WebSocket, id: SidecarIdentity, protocol: number): void {
    let alive = true;
    let refused = 0;
    const conn: SidecarConnection = {
      id: nextId++,
      pod: id.pod,
      workload: id.workload,
      protocol,
      report: {},
      send: (msg) => ws.send(JSON.stringify(msg)),
      close: (code, reason) => ws.close(code, reason),
    };
    const log = deps.logger.child({ pod: `${id.namespace}/${id.pod}`, workload: formatWorkload(id.workload) });
    log.info({ protocol }, 'Connected sidecar');
    // Protocol 1 (0.1.x sidecars) has no hello: it would be logged there as a malformed message.
    if (protocol >= 2) ws.send(JSON.stringify({ type: 'hello', version, protocol }));
    ws.on('pong', () => { alive = true; });
    const ping = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, deps.pingIntervalMs ?? 20_000);
    ping.unref();
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const msg = parseSidecarMessage(data.toString());
      if ('error' in msg) {
        // Refused, never summed into status (a string "clients" once broke every status write).
        refused++;
        if (refused === 1 || refused % 100 === 0) log.warn({ why: msg.error, refused }, 'Refused an invalid control message');
        return;
      }
      if (msg.type === 'ack') deps.hub.ack(conn, msg.epoch, msg.version);
      else if (msg.type === 'hello') conn.build = msg.version;
      else deps.hub.report(conn, msg.intercepts);
    });
    ws.on('close', () => {
      clearInterval(ping);
      deps.hub.remove(conn);
      log.info('Disconnected sidecar');
    });
    ws.on('error', () => ws.terminate());
    deps.hub.add(conn);
  }

  server.on('close', () => {
    for (const ws of wss.clients) ws.terminate();
  });
  return server;
}
