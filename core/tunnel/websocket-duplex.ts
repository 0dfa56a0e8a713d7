// A byte-stream Duplex over a WebSocket, for running HTTP/2 inside it. Like ws's
// createWebSocketStream, with what the tunnel needs on top: backpressure in both directions (a
// write completes only when the socket took it; the WebSocket is paused while the reader is
// full), text frames treated as a protocol error, and byte counters.

import { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { CLOSE } from './protocol.js';

export interface WebSocketDuplexCounters {
  /** Called with the size of every binary message received / sent. */
  onBytesIn?: (n: number) => void;
  onBytesOut?: (n: number) => void;
  /**
   * How to close the WebSocket when the byte stream ends (HTTP/2 closed gracefully, after its last
   * bytes): default 1000. `undefined`: leave the close to the peer.
   */
  closeOnEnd?: () => { code: number; reason: string } | undefined;
}

export function webSocketDuplex(ws: WebSocket, counters: WebSocketDuplexCounters = {}): Duplex {
  const duplex = new Duplex({
    allowHalfOpen: false,
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _enc, callback) {
      if (ws.readyState !== ws.OPEN) {
        callback(new Error('tunnel WebSocket is not open'));
        return;
      }
      counters.onBytesOut?.(chunk.length);
      ws.send(chunk, { binary: true }, callback);
    },
    // HTTP/2 writes a frame header and its payload as separate buffers; one message for the batch.
    writev(chunks: Array<{ chunk: Buffer }>, callback) {
      if (ws.readyState !== ws.OPEN) {
        callback(new Error('tunnel WebSocket is not open'));
        return;
      }
      const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
      counters.onBytesOut?.(data.length);
      ws.send(data, { binary: true }, callback);
    },
    final(callback) {
      const how = counters.closeOnEnd ? counters.closeOnEnd() : { code: CLOSE.normal, reason: '' };
      if (how !== undefined && ws.readyState === ws.OPEN) ws.close(how.code, how.reason);
      callback();
    },
    destroy(err, callback) {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
      callback(err);
    },
  });

  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (!isBinary) {
      ws.close(CLOSE.unsupportedData, 'text frames are not part of the tunnel protocol');
      duplex.destroy(new Error('tunnel received a text frame'));
      return;
    }
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    counters.onBytesIn?.(buf.length);
    if (!duplex.push(buf)) ws.pause();
  });
  ws.on('close', () => {
    if (!duplex.destroyed) {
      duplex.push(null);
      duplex.destroy();
    }
  });
  ws.on('error', (err) => {
    if (!duplex.destroyed) duplex.destroy(err);
  });
  return duplex;
}
