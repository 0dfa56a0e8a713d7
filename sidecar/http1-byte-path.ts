// The byte-level HTTP/1.1 data plane of one client connection. It reads each request head from
// the socket, parses only what routing and framing need (http1-request-head.ts), routes it, and
// forwards the original bytes — minus hop-by-hop lines, plus the X-Forwarded-For/-Proto lines — to a
// pooled raw connection to the app. Request and response bodies are spliced as the buffers arrive,
// with only their framing tracked (Content-Length countdown, chunked state machine with trailers,
// close-delimited, 1xx, HEAD, 204/304), so keep-alive reuse, per-request routing on a reused
// connection and the order of pipelined answers hold. Requests are taken one at a time: the next
// pipelined request is parsed only once the previous answer is complete, wherever each goes.
// What is not spliced here goes to the Node path (http1-node-path.ts): one request at a time
// through a RequestBridge for developer, Mirror and Reject decisions, the rest of the connection for
// upgrades and HTTP/1.0.

import type net from 'node:net';
import { HOP_BY_HOP, stripMappedV4 } from '../core/tunnel/headers.js';
import type { AppConnection, AppConnectionOwner } from './app-upstream.js';
import { RequestBridge } from './http1-bridge.js';
import { ChunkedFraming } from './http1-chunked.js';
import type { NodePath } from './http1-node-path.js';
import { parseRequestHead, type FieldLine, type RequestHead } from './http1-request-head.js';
import { writeRawResponse } from './http1-responses.js';
import { parseResponseHead, type ResponseBody } from './http1-response-head.js';
import type { RequestResult } from './metrics.js';
import { KEEP_ALIVE_TIMEOUT_MS, type ProxyContext } from './proxy-context.js';
import { CLIENT_REASON, type Decision } from './router.js';

const SAFE_RETRY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);
/** Headers Node keeps only the first of (the routing table sees requests as Node would parse them). */
const FIRST_ONLY = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const MAX_RESPONSE_HEAD = 64 * 1024;

/** What the byte path needs from its listener. */
export interface BytePathEnv {
  ctx: ProxyContext;
  /** The Node path, loaded on first use. */
  nodePath(): NodePath | Promise<NodePath>;
  /** The listener is closing: no keep-alive after the current answer. */
  closing(): boolean;
  /** This connection left the byte path (closed or handed over whole). */
  onGone(conn: Http1Connection): void;
}

/** The value of a header as Node's parser would present it (repeated headers joined), for the routing table. */
export function buildHeaderLookup(fields: readonly FieldLine[]): (name: string) => string | undefined {
  // Routes of a table usually test the same header (x-detour-user, baggage): the last answer is kept,
  // so 100 routes cost one scan of the fields, not 100.
  let lastName: string | undefined;
  let lastValue: string | undefined;
  return (name) => {
    if (name === lastName) return lastValue;
    let value: string | undefined;
    for (const f of fields) {
      if (f.name !== name) continue;
      if (value === undefined) value = f.value;
      else if (!FIRST_ONLY.has(name)) value += (name === 'cookie' ? '; ' : ', ') + f.value;
    }
    lastName = name;
    lastValue = value;
    return value;
  };
}

/**
 * The head forwarded to the app: the request line and field lines as the client wrote them, without
 * hop-by-hop fields (`Transfer-Encoding` stays: the body goes as it came), those `Connection` lists,
 * `Expect` (the sidecar answers 100-continue itself) and `X-Forwarded-For`, which comes back as one
 * line with the peer appended; `X-Forwarded-Proto: http` when absent. Pure.
 */
export function buildForwardedHead(buf: Buffer, head: RequestHead, peer: string | undefined): Buffer {
  const parts: Buffer[] = [];
  let runStart = head.start;
  let runEnd = head.lineEnd;
  let xff: string | undefined;
  let hasProto = false;
  for (const f of head.fields) {
    const name = f.name;
    let drop = false;
    if (name === 'x-forwarded-for') { xff = xff === undefined ? f.value : `${xff}, ${f.value}`; drop = true; }
    else if (name === 'x-forwarded-proto') hasProto = true;
    else if (name === 'expect') drop = true;
    else if ((HOP_BY_HOP.has(name) && name !== 'transfer-encoding') || head.connectionListed?.has(name) === true) drop = name !== 'transfer-encoding';
    if (drop) {
      if (runEnd > runStart) parts.push(buf.subarray(runStart, runEnd));
      runStart = runEnd = f.end;
    } else if (f.start === runEnd) runEnd = f.end;
    else { parts.push(buf.subarray(runStart, runEnd)); runStart = f.start; runEnd = f.end; }
  }
  if (runEnd > runStart) parts.push(buf.subarray(runStart, runEnd));
  let extra = '';
  if (peer) extra += `X-Forwarded-For: ${xff === undefined ? peer : `${xff}, ${peer}`}\r\n`;
  else if (xff !== undefined) extra += `X-Forwarded-For: ${xff}\r\n`;
  if (!hasProto) extra += 'X-Forwarded-Proto: http\r\n';
  parts.push(Buffer.from(`${extra}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

type Phase = 'head' | 'body' | 'wait' | 'gone';

/** Where the bytes of the current request's body go. */
interface Sink {
  write(chunk: Buffer): boolean;
  requestDone(): void;
  /** The connection broke or the request was refused mid-body: cancel whatever was forwarded. */
  abort(): void;
  /** Any byte of a final answer reached the client. */
  readonly answered: boolean;
  /** The client sent FIN; without this the exchange is aborted. */
  clientEnded?(): void;
}

export class Http1Connection {
  private buf: Buffer | undefined;
  private off = 0;
  private phase: Phase = 'head';
  private sink: Sink | undefined;
  private length = 0;
  private chunked: ChunkedFraming | undefined;
  private readonly peer: string | undefined;
  /** performance.now() of the first byte of the head being read (0: none yet), of the request start, of going idle. */
  headStartedAt = 0;
  requestStartedAt = 0;
  idleSince: number;
  private clientEnded = false;

  constructor(readonly socket: net.Socket, first: Buffer, readonly env: BytePathEnv) {
    this.peer = stripMappedV4(socket.remoteAddress);
    this.idleSince = performance.now();
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    this.onData(first);
  }

  /** A request is in flight (for the connection limit: busy connections are never evicted). */
  get busy(): boolean { return this.phase === 'body' || this.phase === 'wait'; }

  /** Checks the head, request and keep-alive timeouts (called by the listener's sweep). */
  sweep(now: number): void {
    const { limits, deps } = this.env.ctx;
    const headLimit = limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs;
    if (this.phase === 'head' && this.headStartedAt > 0 && now - this.headStartedAt > headLimit) {
      deps.metrics.limitRefusals.inc({ limit: 'request_timeout' });
      this.refuse(408, 'request timeout');
    } else if (this.phase === 'body' && limits.requestTimeoutMs > 0 && now - this.requestStartedAt > limits.requestTimeoutMs) {
      deps.metrics.limitRefusals.inc({ limit: 'request_timeout' });
      const sink = this.sink;
      sink?.abort();
      if (sink?.answered) this.destroy(); else this.refuse(408, 'request timeout');
    } else if (this.phase === 'head' && this.headStartedAt === 0 && now - this.idleSince > KEEP_ALIVE_TIMEOUT_MS) {
      this.destroy();
    }
  }

  /** Ends the connection when it is idle (listener closing); a busy one ends after its answer. */
  closeIfIdle(): void {
    if (this.phase === 'head' && this.headStartedAt === 0) this.destroy();
  }

  destroy(): void {
    if (this.phase === 'gone') return;
    this.sink?.abort();
    this.leave();
    this.socket.destroy();
  }

  private leave(): void {
    this.phase = 'gone';
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    this.socket.off('drain', this.onDrain);
    this.env.onGone(this);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.phase === 'body') { this.feedBody(chunk, 0, chunk.length); return; }
    if (this.phase === 'gone') return;
    this.keep(chunk, 0);
    if (this.phase === 'head') this.readHead();
    // Pipelined requests wait for the answer in flight; read no further than one head ahead.
    else if (this.buf!.length - this.off > this.env.ctx.maxHeaderSize) this.socket.pause();
  };

  /**
   * The client's FIN aborts what is in flight, as Node's http server does (no half-open HTTP); a
   * request on the Node path gets the FIN itself, so Node's own handling applies there.
   */
  private readonly onEnd = (): void => {
    if ((this.phase === 'wait' || this.phase === 'body') && this.sink?.clientEnded !== undefined) this.sink.clientEnded();
    else this.destroy();
  };

  private readonly onClose = (): void => {
    if (this.phase === 'gone') return;
    this.sink?.abort();
    this.leave();
  };

  private readonly onDrain = (): void => { this.drainWaiters?.(); };
  /** Set while an upstream waits for the client socket to drain. */
  drainWaiters: (() => void) | undefined;

  /** The request body's sink can take more. */
  resumeBody(): void { if (this.phase === 'body') this.socket.resume(); }

  private keep(chunk: Buffer, from: number): void {
    if (this.buf === undefined || this.off >= this.buf.length) { this.buf = from === 0 ? chunk : chunk.subarray(from); this.off = 0; }
    else { this.buf = Buffer.concat([this.buf.subarray(this.off), chunk.subarray(from)]); this.off = 0; }
  }

  private readHead(): void {
    if (this.phase !== 'head') return;
    const buf = this.buf;
    if (buf === undefined || this.off >= buf.length) return;
    if (this.headStartedAt === 0) this.headStartedAt = performance.now();
    const { ctx } = this.env;
    const r = parseRequestHead(buf, this.off, ctx.maxHeaderSize);
    if (r.kind === 'incomplete') return;
    if (r.kind === 'refused') {
      ctx.deps.metrics.clientErrors.inc({ kind: r.clientErrorKind });
      ctx.deps.logger.debug({ port: ctx.portLabel, reason: r.reason }, 'Refused a malformed request');
      this.refuse(r.status, r.reason);
      return;
    }
    const head = r.head;
    if (head.minor === 0 || head.upgrade) { void this.handOverWhole(); return; }
    this.requestStartedAt = this.headStartedAt;
    this.headStartedAt = 0;
    const decision = ctx.deps.router.decideWith(ctx.appPort, head.target, buildHeaderLookup(head.fields));
    if (decision.kind === 'app' || decision.kind === 'fallback') { this.toApp(buf, head, decision); return; }
    const node = this.env.nodePath();
    if (node instanceof Promise) {
      // The first routed request of this listener: load the Node path, then read this head again.
      this.headStartedAt = this.requestStartedAt;
      this.phase = 'wait';
      this.socket.pause();
      node.then(() => { if (this.phase === 'wait') { this.phase = 'head'; this.socket.resume(); this.readHead(); } }, () => this.destroy());
      return;
    }
    this.toNodePath(node, buf, head, decision);
  }

  /** 400/408/431/417 and close: nothing more is read from this connection. */
  private refuse(status: number, reason: string): void {
    const socket = this.socket;
    this.leave();
    writeRawResponse(socket, status, status === 400 && !reason.startsWith('Connection') ? `malformed HTTP request: ${reason}` : reason);
    socket.destroySoon();
  }

  private async handOverWhole(): Promise<void> {
    const socket = this.socket;
    const rest = this.buf!.subarray(this.off);
    this.leave();
    socket.pause();
    try {
      (await this.env.nodePath()).handOver(socket, rest);
    } catch {
      socket.destroy();
    }
  }

  // ---------- the request body ----------

  /** Starts tracking the body of `head` into `sink` and feeds what already arrived. */
  private startBody(head: RequestHead, sink: Sink): void {
    this.sink = sink;
    const buf = this.buf!;
    this.off = head.end;
    if (head.body.kind === 'none') { this.requestDone(); return; }
    this.phase = 'body';
    if (head.body.kind === 'length') this.length = head.body.length;
    else this.chunked = new ChunkedFraming(this.env.ctx.maxHeaderSize);
    if (this.off < buf.length) {
      const end = this.feedBody(buf, this.off, buf.length);
      if (end === buf.length && this.phase === 'body') { this.buf = undefined; this.off = 0; }
    } else { this.buf = undefined; this.off = 0; }
  }

  /** Forwards body bytes of `buf[start, end)` and keeps what follows the body; returns where the request ended (or `end`), -1 when it was refused. */
  private feedBody(buf: Buffer, start: number, end: number): number {
    const sink = this.sink!;
    let stop: number;
    if (this.chunked === undefined) {
      const n = Math.min(this.length, end - start);
      this.length -= n;
      stop = start + n;
    } else {
      stop = this.chunked.feed(buf, start, end);
      if (stop < 0) { this.bodyRefused(this.chunked.error ?? 'invalid chunked body'); return -1; }
    }
    if (stop > start && !sink.write(start === 0 && stop === buf.length ? buf : buf.subarray(start, stop))) this.socket.pause();
    if (this.chunked === undefined ? this.length === 0 : this.chunked.done) {
      this.chunked = undefined;
      this.buf = stop < end ? buf.subarray(stop) : undefined;
      this.off = 0;
      this.requestDone();
      return stop;
    }
    return end;
  }

  /** Invalid chunked framing after the request was dispatched: 400 while no answer started, else close (docs/sidecar.md). */
  private bodyRefused(reason: string): void {
    const { ctx } = this.env;
    ctx.deps.metrics.clientErrors.inc({ kind: 'HPE_INVALID_CHUNK_SIZE' });
    const sink = this.sink;
    sink?.abort();
    if (sink?.answered) this.destroy();
    else this.refuse(400, reason);
  }

  private requestDone(): void {
    if (this.phase === 'gone') return;
    this.phase = 'wait';
    if (this.socket.isPaused()) this.socket.resume(); // a FIN or RST must still be seen while the answer is in flight
    this.sink!.requestDone();
  }

  /** The answer to the current request is complete; `close`: end the connection instead of reading the next request. */
  exchangeDone(close: boolean): void {
    if (this.phase === 'gone') return;
    this.sink = undefined;
    if (close || this.clientEnded || this.env.closing()) {
      const socket = this.socket;
      this.leave();
      socket.end();
      return;
    }
    this.phase = 'head';
    this.idleSince = performance.now();
    if (this.socket.isPaused()) this.socket.resume();
    if (this.buf !== undefined && this.off < this.buf.length) this.readHead();
  }

  /** The current exchange failed after its answer started (or the client went away): drop the connection. */
  exchangeFailed(): void { this.destroy(); }

  /** The exchange answered with a raw `Connection: close` response (already ending the socket): read nothing more. */
  exchangeClosed(): void {
    if (this.phase === 'gone') return;
    this.sink = undefined;
    const socket = this.socket;
    this.leave();
    socket.destroySoon();
  }

  // ---------- to the app ----------

  private toApp(buf: Buffer, head: RequestHead, decision: Extract<Decision, { kind: 'app' | 'fallback' }>): void {
    const { ctx } = this.env;
    const intercept = decision.kind === 'app' ? '' : decision.route.intercept;
    if (decision.kind === 'fallback') ctx.deps.stats.fallback(intercept);
    if (head.expectContinue && head.body.kind !== 'none') this.socket.write(CONTINUE);
    const exchange = new AppExchange(ctx, this, buildForwardedHead(buf, head, this.peer), head, decision.kind, intercept, this.requestStartedAt);
    // The head and the body bytes that came with it leave in one write.
    exchange.cork();
    this.startBody(head, exchange);
    exchange.uncork();
  }

  // ---------- to the Node path ----------

  private toNodePath(node: NodePath, buf: Buffer, head: RequestHead, decision: Exclude<Decision, { kind: 'app' }>): void {
    const bytes = buf.subarray(head.start, head.end);
    let requestDone = false;
    let responseDone = false;
    let detached = false;
    const finishIfDone = (): void => {
      if (!requestDone || !responseDone || detached) return;
      detached = true;
      if (bridge.writableEnded) { this.socket.once('close', () => bridge.destroy()); this.exchangeDone(true); return; }
      process.nextTick(() => bridge.destroy());
      this.exchangeDone(false);
    };
    const bridge: RequestBridge = new RequestBridge(this.socket, decision, this.requestStartedAt, {
      onResponseDone: () => { responseDone = true; finishIfDone(); },
      // Node ended the connection: the client's socket ends too, and the bridge closes with it (as a socket would).
      onEnded: () => { if (!detached) { detached = true; this.socket.once('close', () => bridge.destroy()); this.exchangeDone(true); } },
      onDestroyed: () => { if (!detached) { detached = true; this.exchangeFailed(); } },
      onWantMore: () => { if (this.phase === 'body') this.socket.resume(); },
    });
    node.serve(bridge);
    bridge.feed(bytes);
    this.startBody(head, {
      write: (chunk) => bridge.feed(chunk),
      requestDone: () => { requestDone = true; finishIfDone(); },
      abort: () => { if (!detached) { detached = true; bridge.destroy(); } },
      get answered() { return bridge.answered; },
      clientEnded: () => { bridge.push(null); },
    });
  }
}

/** One request spliced to the app and its answer back. */
class AppExchange implements Sink, AppConnectionOwner {
  private up: AppConnection;
  private attempt = 0;
  private requestComplete = false;
  private finished = false;
  /** Response parsing state. */
  private respBuf: Buffer | undefined;
  private inHead = true;
  private body: ResponseBody | undefined;
  private remaining = 0;
  private chunked: ChunkedFraming | undefined;
  private responseClose = false;
  private responseComplete = false;
  private gotResponseBytes = false;
  answered = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly conn: Http1Connection,
    private readonly forwardHead: Buffer,
    private readonly head: RequestHead,
    private readonly result: RequestResult,
    private readonly intercept: string,
    private readonly startedAt: number,
  ) {
    this.up = this.connect(false);
    this.up.socket.write(forwardHead);
  }

  cork(): void { this.up.socket.cork(); }
  uncork(): void { this.up.socket.uncork(); }

  private connect(fresh: boolean): AppConnection {
    const { app } = this.ctx.deps;
    const up = app.acquire(app.sourceFor(this.conn.socket), fresh);
    up.owner = this;
    return up;
  }

  // Sink: the request body, towards the app.
  write(chunk: Buffer): boolean {
    if (this.up.socket.destroyed || !this.up.socket.writable) return true; // the app went away; its answer (or the 502) decides
    return this.up.socket.write(chunk);
  }

  requestDone(): void {
    this.requestComplete = true;
    this.maybeDone();
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.up.owner = undefined;
    this.up.socket.destroy();
    this.ctx.record('failed', this.intercept, this.startedAt);
  }

  // AppConnectionOwner: the app's answer.
  onData(chunk: Buffer): void {
    this.gotResponseBytes = true;
    if (this.responseComplete) { this.up.socket.destroy(); return; } // bytes past the answer: never reuse
    if (this.inHead) {
      this.respBuf = this.respBuf === undefined ? chunk : Buffer.concat([this.respBuf, chunk]);
      this.readResponseHeads();
      return;
    }
    if (!this.finished || this.body?.kind === 'close') this.forwardBody(chunk, 0);
  }

  private readResponseHeads(): void {
    const buf = this.respBuf!;
    let from = 0;
    for (;;) {
      const r = parseResponseHead(buf, from, MAX_RESPONSE_HEAD, this.head.method === 'HEAD');
      if (r.kind === 'incomplete') { this.respBuf = from === 0 ? buf : buf.subarray(from); return; }
      if (r.kind === 'invalid') { this.fail(`app sent an invalid response: ${r.reason}`); return; }
      const h = r.head;
      if (h.status === 101) { this.fail('app answered 101 to a request that is no upgrade'); return; }
      if (h.status < 200) {
        // 1xx (103 Early Hints …): forwarded, the final answer follows.
        this.conn.socket.write(buf.subarray(from, h.end));
        from = h.end;
        if (from >= buf.length) { this.respBuf = undefined; return; }
        continue;
      }
      this.inHead = false;
      this.respBuf = undefined;
      this.body = h.body;
      this.responseClose = h.close;
      if (h.body.kind === 'length') this.remaining = h.body.length;
      else if (h.body.kind === 'chunked') this.chunked = new ChunkedFraming(MAX_RESPONSE_HEAD);
      this.answered = true;
      // The head and whatever of the body came with it leave in one write.
      if (h.body.kind === 'none') {
        if (h.end < buf.length) this.responseClose = true; // the app wrote past its answer
        this.toClient(buf.subarray(from, h.end));
        this.responseEnded();
      } else this.forwardBody(buf, h.end, from);
      return;
    }
  }

  /** Forwards the body bytes in `buf` from `start` (and the head before them from `writeFrom`). */
  private forwardBody(buf: Buffer, start: number, writeFrom = start): void {
    const body = this.body!;
    if (body.kind === 'close') { this.toClient(writeFrom === 0 ? buf : buf.subarray(writeFrom)); return; }
    let stop: number;
    if (body.kind === 'length') {
      const n = Math.min(this.remaining, buf.length - start);
      this.remaining -= n;
      stop = start + n;
    } else {
      stop = this.chunked!.feed(buf, start, buf.length);
      if (stop < 0) { this.fail(`app sent invalid chunked framing: ${this.chunked!.error}`); return; }
    }
    if (stop > writeFrom) this.toClient(writeFrom === 0 && stop === buf.length ? buf : buf.subarray(writeFrom, stop));
    if (body.kind === 'length' ? this.remaining === 0 : this.chunked!.done) {
      if (stop < buf.length) this.responseClose = true; // the app wrote past its answer
      this.responseEnded();
    }
  }

  private toClient(chunk: Buffer): void {
    if (!this.conn.socket.write(chunk)) {
      this.up.socket.pause();
      this.conn.drainWaiters = () => { this.conn.drainWaiters = undefined; this.up.socket.resume(); };
    }
  }

  private responseEnded(): void {
    this.responseComplete = true;
    this.maybeDone();
  }

  private maybeDone(): void {
    if (!this.requestComplete || !this.responseComplete || this.finished) return;
    this.finished = true;
    const { app } = this.ctx.deps;
    if (this.responseClose || this.up.socket.destroyed) { this.up.owner = undefined; this.up.socket.destroy(); }
    else app.release(this.up);
    this.ctx.record(this.result, this.intercept, this.startedAt);
    this.conn.exchangeDone(this.responseClose || this.head.close);
  }

  onEnd(): void {
    if (this.finished) return;
    if (!this.inHead && this.body?.kind === 'close') {
      this.responseClose = true;
      this.up.owner = undefined;
      this.responseEnded();
      if (!this.requestComplete) { this.finished = true; this.ctx.record(this.result, this.intercept, this.startedAt); this.conn.exchangeDone(true); }
      return;
    }
    if (this.responseComplete) return; // closed after a complete answer while the request body still flows
    this.failOrRetry('ECONNRESET');
  }

  onError(err: NodeJS.ErrnoException): void {
    if (this.finished || this.responseComplete) return;
    this.failOrRetry(err.code ?? 'error');
  }

  onDrain(): void { this.conn.resumeBody(); }

  private failOrRetry(code: string): void {
    const retryable = this.attempt === 0 && this.up.reused && !this.gotResponseBytes && this.head.body.kind === 'none' && SAFE_RETRY_METHODS.has(this.head.method);
    this.up.owner = undefined;
    this.up.socket.destroy();
    if (retryable) {
      // The app closed an idle pooled connection as the request went out: once more on a new one.
      this.attempt = 1;
      this.up = this.connect(true);
      this.up.socket.write(this.forwardHead);
      return;
    }
    this.fail(`app not reachable on port ${this.ctx.appPort}: ${code}`);
  }

  /** 502 while the client got nothing of the answer (the detail goes to the log), else the connection is dropped. */
  private fail(detail: string): void {
    if (this.finished) return;
    this.finished = true;
    this.up.owner = undefined;
    this.up.socket.destroy();
    if (!this.answered) {
      this.ctx.record('failed', this.intercept, this.startedAt, detail);
      writeRawResponse(this.conn.socket, 502, CLIENT_REASON.upstream);
      this.conn.exchangeClosed();
      return;
    }
    this.ctx.record('failed', this.intercept, this.startedAt);
    this.conn.exchangeFailed();
  }
}
