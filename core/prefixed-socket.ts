import type net from 'node:net';
import { Duplex } from 'node:stream';

/**
 * A connection whose first bytes were already read (to spot the HTTP/2 preface), handed to an h2c
 * server as a Duplex that replays them. Node's HTTP/2 server reads a net.Socket's handle directly
 * and would miss bytes put back with unshift(). Backpressure follows the socket (pause/resume);
 * socket errors are the caller's to handle.
 */
export class PrefixedSocket extends Duplex {
  constructor(private readonly socket: net.Socket, prefix: Buffer) {
    super({ allowHalfOpen: false });
    this.push(prefix);
    socket.on('data', (c: Buffer) => { if (!this.push(c)) socket.pause(); });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
  }

  override _read(): void { this.socket.resume(); }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void { this.socket.write(chunk, cb); }
  override _final(cb: (err?: Error | null) => void): void { this.socket.end(); cb(); }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void { this.socket.destroy(); cb(err); }
  get remoteAddress(): string | undefined { return this.socket.remoteAddress; }
}
