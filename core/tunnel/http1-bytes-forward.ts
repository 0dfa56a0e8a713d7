// The developer end of an `http1-bytes` stream (detour-tunnel.v2): the stream carries one HTTP/1.1
// request's own bytes (head as the sidecar framed it, then the body as framed), which go unchanged
// onto a pooled keep-alive connection to the local server; the local server's bytes come back
// unchanged on the stream until its response is complete (Http1ResponseFraming), and the connection
// returns to the pool when that response allows reuse. Nothing is parsed or re-serialised but the
// response framing.
//
// Backpressure both ways: a full local socket pauses the stream (Node then withholds WINDOW_UPDATE,
// so the sidecar stops at the stream window), a full stream pauses the local socket.
//
// Failures: the local server unreachable or answering malformed bytes before the response started →
// a raw `502` with X-Detour-Reason on the stream; after it started → the stream is reset (the
// sidecar aborts its client's response). The sidecar cancelling (its client went away, the tunnel
// closing) destroys the local connection.

import http2, { type ServerHttp2Stream } from 'node:http2';
import type net from 'node:net';
import { buildRawResponse } from '../raw-http-response.js';
import { Http1ResponseFraming, ResponseFramingError } from './http1-response-framing.js';
import type { LocalConnectionPool } from './local-connection-pool.js';

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

export function forwardHttp1Bytes(
  stream: ServerHttp2Stream, method: string, pool: LocalConnectionPool, localName: string, done: (status: number, error?: string) => void,
): void {
  const framing = new Http1ResponseFraming(method === 'HEAD');
  let socket: net.Socket | undefined;
  let responded = false;
  let requestEnded = false;
  let finished = false;
  let sent = 0;

  const respond = (): void => {
    if (responded) return;
    responded = true;
    stream.respond({ ':status': 200 });
  };
  const fail = (reason: string): void => {
    if (finished) return;
    finished = true;
    socket?.destroy();
    if (stream.destroyed || stream.closed) { done(framing.status || 499, reason); return; }
    if (sent === 0) {
      respond();
      stream.end(buildRawResponse(502, reason, { reasonHeader: 'X-Detour-Reason' }));
    } else {
      stream.close(NGHTTP2_INTERNAL_ERROR);
    }
    done(framing.started ? framing.status : 502, reason);
  };
  /** The response is complete; `last`: its final bytes, sent with END_STREAM. */
  const complete = (reusable: boolean, last?: Buffer): void => {
    if (finished) return;
    finished = true;
    const s = socket!;
    s.removeListener('data', onData);
    respond();
    if (last) stream.end(last); else stream.end();
    if (reusable && requestEnded) pool.release(s);
    else s.destroy();
    done(framing.status);
  };

  const onData = (chunk: Buffer): void => {
    let n: number;
    try {
      n = framing.push(chunk);
    } catch (err) {
      fail(`${localName} sent a malformed response: ${err instanceof ResponseFramingError ? err.message : String(err)}`);
      return;
    }
    const data = n === chunk.length ? chunk : chunk.subarray(0, n);
    if (n > 0) { respond(); sent += n; }
    // Bytes after the response: the connection is out of step, never reuse it.
    if (framing.complete) { complete(framing.keepAlive && n === chunk.length, n > 0 ? data : undefined); return; }
    if (n > 0 && !stream.write(data)) {
      socket!.pause();
      stream.once('drain', () => socket?.resume());
    }
  };
  const onEnd = (): void => {
    if (finished) return;
    if (framing.end()) complete(false);
    else fail(`${localName} closed the connection ${framing.started ? 'in the middle of the response' : 'without answering'}`);
  };

  stream.on('error', () => { /* handled on close */ });
  stream.on('close', () => {
    if (finished) return;
    finished = true;
    socket?.destroy();
    done(framing.status || 499, 'cancelled by the sidecar');
  });
  stream.pause(); // the request's bytes wait for a connection
  pool.acquire().then(({ socket: s }) => {
    if (finished || stream.destroyed || stream.closed) { pool.release(s); return; }
    socket = s;
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('close', onEnd);
    s.on('error', (err: NodeJS.ErrnoException) => fail(`${localName} failed: ${err.code ?? err.message}`));
    stream.on('data', (c: Buffer) => {
      if (!s.write(c)) {
        stream.pause();
        s.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => {
      requestEnded = true;
      if (framing.complete && !finished) complete(framing.keepAlive);
    });
    stream.resume();
  }, (err: NodeJS.ErrnoException) => fail(`local server unreachable: ${err.code ?? err.message}`));
}
