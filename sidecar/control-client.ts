// The sidecar's side of the control channel (see core/control/protocol.ts): a WebSocket to the
// operator, authenticated with the projected service-account token (read again before every
// connect — the kubelet rotates it). Tables are handed to `onTable`, which swaps them atomically
// and returns what is now served; that is acknowledged. While the operator is away the sidecar
// keeps serving its last table and reconnects with exponential backoff and full jitter.
// The protocol version is negotiated (core/control/negotiation.ts): the sidecar offers the
// protocols it speaks; an operator of 0.1.x answers with none, and the sidecar then reconnects at
// once offering none (protocol 1), so a rollback of the operator keeps newer sidecars served.

import WebSocket from 'ws';
import { backoffDelay } from '../core/backoff.js';
import { parseHello, type AckMessage, type HelloMessage, type OperatorToSidecar, type ReportMessage, type TableMessage } from '../core/control/protocol.js';
import { buildOfferedSubprotocols, parseControlSubprotocol, SUPPORTED_CONTROL_PROTOCOLS, type ProtocolRange } from '../core/control/negotiation.js';
import { DETOUR_VERSION } from '../core/version/version.js';
import type { Logger } from '../core/logging.js';
import type { Route, RoutingTable } from '../core/routing/table.js';
import { startHeartbeat } from '../core/tunnel/heartbeat.js';

export interface ControlClientDeps {
  /** Full ws:// or wss:// URL of the control endpoint. */
  url: string;
  /** Reads the bearer token (the projected token file). Called before each connect. */
  readToken: () => Promise<string>;
  logger: Logger;
  /** Offers a table; returns the table served afterwards (the same one, or the current one when it was stale). */
  onTable: (table: RoutingTable) => RoutingTable;
  /** The report to send (periodically, on connect and after reportSoon()). */
  report: () => ReportMessage;
  onConnectedChange?: (connected: boolean) => void;
  reportIntervalMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  pingIntervalMs?: number;
  random?: () => number;
  webSocketOptions?: WebSocket.ClientOptions;
  /** The control protocols offered (default: this build's). */
  protocols?: ProtocolRange;
  /** Sent in the hello (default DETOUR_VERSION). */
  version?: string;
}

export interface ControlClient {
  start(): void;
  stop(): Promise<void>;
  /** Sends a report shortly (debounced), e.g. when a developer connected. */
  reportSoon(): void;
  readonly connected: boolean;
}

/** Validates an operator message; returns a reason string when it is not a usable table message. */
export function parseOperatorMessage(text: string): OperatorToSidecar | { error: string } {
  let msg: unknown;
  try { msg = JSON.parse(text); } catch { return { error: 'not JSON' }; }
  if (typeof msg !== 'object' || msg === null) return { error: 'not an object' };
  if ((msg as { type?: unknown }).type === 'hello') return parseHello(msg as Record<string, unknown>);
  const m = msg as Partial<TableMessage>;
  if (m.type !== 'table') return { error: `unknown message type ${JSON.stringify(m.type)}` };
  const t = m.table as Partial<RoutingTable> | undefined;
  if (typeof t !== 'object' || t === null) return { error: 'table missing' };
  if (typeof t.version !== 'number' || !Number.isFinite(t.version)) return { error: 'table.version is not a number' };
  if (typeof t.epoch !== 'string') return { error: 'table.epoch is not a string' };
  if (!Array.isArray(t.routes)) return { error: 'table.routes is not an array' };
  for (const r of t.routes as Partial<Route>[]) {
    if (typeof r !== 'object' || r === null || typeof r.intercept !== 'string' || typeof r.tokenHash !== 'string'
      || (r.mode !== 'Steal' && r.mode !== 'Mirror' && r.mode !== 'Outbound') || (r.fallback !== 'App' && r.fallback !== 'Reject')
      || (typeof r.port !== 'string' && typeof r.port !== 'number')) {
      return { error: 'table.routes has a malformed route' };
    }
    if (r.match !== undefined && (typeof r.match !== 'object' || r.match === null || !Array.isArray(r.match.headers))) {
      return { error: `route ${r.intercept} has a malformed match` };
    }
  }
  return { type: 'table', table: t as RoutingTable };
}

export function buildControlClient(deps: ControlClientDeps): ControlClient {
  const { logger } = deps;
  const random = deps.random ?? Math.random;
  const initial = deps.initialDelayMs ?? 500;
  const max = deps.maxDelayMs ?? 30_000;
  let ws: WebSocket | undefined;
  let stopped = true;
  let connected = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let reportTimer: NodeJS.Timeout | undefined;
  let soonTimer: NodeJS.Timeout | undefined;
  /** The last operator answered without a subprotocol (0.1.x): the next connect offers none. */
  let legacy = false;
  const offered = buildOfferedSubprotocols(deps.protocols ?? SUPPORTED_CONTROL_PROTOCOLS);

  const setConnected = (v: boolean): void => {
    if (connected === v) return;
    connected = v;
    deps.onConnectedChange?.(v);
  };

  const send = (msg: AckMessage | ReportMessage | HelloMessage): void => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };
  const sendReport = (): void => send(deps.report());

  const scheduleRetry = (now = false): void => {
    if (stopped) return;
    const delay = now ? 0 : backoffDelay(attempt++, { initialMs: initial, maxMs: max, random });
    logger.debug({ delayMs: delay, attempt }, 'Scheduled control channel reconnect');
    retryTimer = setTimeout(() => { void connect(); }, delay);
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    let token: string;
    try {
      token = (await deps.readToken()).trim();
    } catch (err) {
      logger.warn({ reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' }, 'Could not read the control channel token');
      scheduleRetry();
      return;
    }
    if (stopped) return;
    const offer = legacy ? [] : offered;
    legacy = false;
    let retryNow = false;
    const socket = new WebSocket(deps.url, offer, {
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      maxPayload: 16 << 20,
      ...deps.webSocketOptions,
      headers: { ...deps.webSocketOptions?.headers, authorization: `Bearer ${token}` },
    });
    ws = socket;
    let stopHeartbeat: (() => void) | undefined;
    socket.on('unexpected-response', (req, res) => {
      // The operator's refusal says what to upgrade or restart (426: the control protocol): log it, back off.
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { if (body.length < 1024) body += chunk; });
      res.on('end', () => {
        logger.warn({ url: deps.url, status: res.statusCode, reason: body.trim().slice(0, 1024) }, 'The operator refused the control channel');
        socket.terminate();
      });
      res.on('error', () => socket.terminate());
      req.on('error', () => undefined);
    });
    socket.on('open', () => {
      attempt = 0;
      setConnected(true);
      // Protocol 1 until the operator's hello confirms another: a 0.1.x operator's ws server echoes
      // the first subprotocol offered without knowing it, so the handshake answer alone is no proof.
      logger.info({ url: deps.url, subprotocol: socket.protocol || undefined }, 'Connected to the operator control channel');
      stopHeartbeat = startHeartbeat(socket, deps.pingIntervalMs ?? 20_000);
      sendReport();
      reportTimer = setInterval(sendReport, deps.reportIntervalMs ?? 30_000);
      reportTimer.unref();
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) { logger.warn('Ignored a binary control message'); return; }
      const parsed = parseOperatorMessage(data.toString());
      if ('error' in parsed) { logger.warn({ reason: parsed.error }, 'Ignored a malformed control message'); return; }
      if (parsed.type === 'hello') {
        const answered = parseControlSubprotocol(socket.protocol);
        if (answered === undefined || parsed.protocol !== answered) { logger.warn({ operator: parsed.version, protocol: parsed.protocol, subprotocol: socket.protocol }, 'Ignored a hello for another protocol than the handshake chose'); return; }
        logger.info({ operator: parsed.version, protocol: parsed.protocol }, 'The operator said hello');
        send({ type: 'hello', version: deps.version ?? DETOUR_VERSION, protocol: parsed.protocol });
        return;
      }
      const served = deps.onTable(parsed.table);
      send({ type: 'ack', epoch: served.epoch, version: served.version });
    });
    socket.on('error', (err) => {
      if (offer.length > 0 && err.message === 'Server sent no subprotocol') {
        // An operator of 0.1.x: it ignores the offer. Speak protocol 1 to it, at once.
        logger.info({ url: deps.url }, 'The operator speaks control protocol 1 (Detour 0.1.x); reconnecting with it');
        legacy = true;
        retryNow = true;
        return;
      }
      logger.warn({ url: deps.url, reason: err.message.split('\n')[0]!.slice(0, 200) }, 'Control channel failed');
    });
    socket.on('close', (code: number) => {
      stopHeartbeat?.();
      if (reportTimer) clearInterval(reportTimer);
      reportTimer = undefined;
      if (ws === socket) ws = undefined;
      if (connected) logger.warn({ code }, 'Lost the operator control channel; keeping the last routing table');
      setConnected(false);
      scheduleRetry(retryNow);
    });
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      void connect();
    },
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (soonTimer) clearTimeout(soonTimer);
      if (reportTimer) clearInterval(reportTimer);
      const socket = ws;
      if (socket && socket.readyState !== WebSocket.CLOSED) {
        await new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
          else socket.close(1001, 'sidecar stopping');
          setTimeout(() => { socket.terminate(); resolve(); }, 1000).unref();
        });
      }
      setConnected(false);
    },
    reportSoon() {
      if (soonTimer || !connected) return;
      soonTimer = setTimeout(() => { soonTimer = undefined; sendReport(); }, 200);
      soonTimer.unref();
    },
    get connected() { return connected; },
  };
}
