// One HTTP/1 request handed from the byte-level data plane to the Node path (Node's http server and
// the developer, mirror and reject code built on IncomingMessage/ServerResponse): a Duplex that
// replays the request's bytes (the byte path pushes exactly the bytes it framed: head and body) and
// writes the answer to the client's socket. Once the answer is complete the byte path takes the
// connection back for the next request.

import type net from 'node:net';
import { Duplex } from 'node:stream';
import type { Decision } from './router.js';

export interface BridgeEvents {
  /** The ServerResponse finished; `writableEnded` says whether Node ended the connection with it (`Connection: close`). */
  onResponseDone(): void;
  /** Node destroyed the connection (an aborted answer) or the bridge was torn down. */
  onDestroyed(): void;
  /** Node ended the connection (after its answer, or after the client's FIN). */
  onEnded(): void;
  /** Node's parser wants more of the request (after `feed` returned false). */
  onWantMore(): void;
}

export class RequestBridge extends Duplex {
  /** Node wrote at least one byte of an answer. */
  answered = false;

  constructor(
    readonly client: net.Socket,
    /** The decision the byte path made; the Node path does not route again. */
    readonly decision: Exclude<Decision, { kind: 'app' }>,
    readonly startedAt: number,
    private readonly events: BridgeEvents,
  ) {
    // Destroyed by the byte path when the client's socket closes, never on its own (as a socket would).
    super({ allowHalfOpen: true, autoDestroy: false });
  }

  /** Feeds request bytes; false when Node wants no more for now (the byte path pauses the client). */
  feed(chunk: Buffer): boolean { return this.push(chunk); }

  /** Called by the Node path when the ServerResponse of this request finished. */
  responseDone(): void { this.events.onResponseDone(); }

  override _read(): void { this.events.onWantMore(); }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.answered = true;
    if (this.client.destroyed) { cb(); return; }
    if (this.client.write(chunk)) cb();
    else this.client.once('drain', () => cb());
  }
  override _final(cb: (err?: Error | null) => void): void { cb(); this.events.onEnded(); }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void { this.events.onDestroyed(); cb(err); }

  get remoteAddress(): string | undefined { return this.client.remoteAddress; }
  get remotePort(): number | undefined { return this.client.remotePort; }
  get localAddress(): string | undefined { return this.client.localAddress; }
  get localPort(): number | undefined { return this.client.localPort; }
  setTimeout(): this { return this; }
  setNoDelay(): this { return this; }
  setKeepAlive(): this { return this; }
}
