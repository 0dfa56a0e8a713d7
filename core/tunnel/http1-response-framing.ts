// Where an HTTP/1.1 response ends, read from raw bytes: the minimal response-framing tracker both
// ends of a detour-tunnel.v2 tunnel need (docs/tunnel-protocol.md, "HTTP/1 as bytes"). The developer
// end feeds it what the local server sends on a pooled keep-alive connection, forwards exactly the
// bytes of this response, and learns whether the connection can be reused; the sidecar feeds it the
// same bytes to answer a client through a ServerResponse (head, decoded body, trailers).
//
// Framing (RFC 9112 §6.3): interim 1xx heads (not 101) are followed by another head; no body for a
// HEAD request, 101, 204 and 304; Transfer-Encoding whose last coding is `chunked` → the chunked
// state machine (size line, data, CRLF, …, last chunk, trailer section); another Transfer-Encoding →
// close-delimited; Content-Length (several values must agree) → a countdown; otherwise
// close-delimited. Keep-alive: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
// `Connection: keep-alive`; never after a close-delimited body or a 101.
//
// Written for the tunnel while the data plane gets its own request parser (#16); the two may merge.

/** A response head: status, reason and the header lines as Node's rawHeaders ([name, value, …]). */
export interface ResponseHead {
  status: number;
  reason: string;
  /** `1.1` or `1.0`. */
  version: string;
  rawHeaders: string[];
}

export interface ResponseFramingEvents {
  /** A head; `interim` for 1xx (except 101): another head follows. */
  onHead?: (head: ResponseHead, interim: boolean) => void;
  /** Body bytes, de-chunked. Only called when given (the developer end does not decode). */
  onBody?: (data: Buffer) => void;
  /** The trailer section of a chunked body, as rawHeaders (empty when there was none). */
  onTrailers?: (rawHeaders: string[]) => void;
}

export class ResponseFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseFramingError';
  }
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'close' | 'done';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_LINE = 8 * 1024;

export class Http1ResponseFraming {
  private state: State = 'head';
  private pending: Buffer | undefined;
  private remaining = 0;
  private line = '';
  private crlfSeen = 0;
  private trailerLines: string[] = [];
  private keepAliveHead = true;
  /** Status of the final (non-interim) head; 0 until it arrived. */
  status = 0;

  constructor(private readonly headRequest: boolean, private readonly events: ResponseFramingEvents = {}, private readonly maxHeadBytes = 64 * 1024) {}

  /** The whole response has been read. */
  get complete(): boolean {
    return this.state === 'done';
  }

  /** The final head arrived (the response started). */
  get started(): boolean {
    return this.status !== 0;
  }

  /** Whether the connection may carry another request after this response (valid once complete). */
  get keepAlive(): boolean {
    return this.keepAliveHead && this.state === 'done';
  }

  /** The body ends when the connection closes. */
  get closeDelimited(): boolean {
    return this.state === 'close';
  }

  /**
   * Feeds bytes read from the connection; returns how many of them belong to this response (fewer
   * than `chunk.length` only once it is complete). Throws ResponseFramingError on malformed framing.
   */
  push(chunk: Buffer): number {
    let i = 0;
    const n = chunk.length;
    while (i < n && this.state !== 'done') {
      switch (this.state) {
        case 'head': {
          const prior = this.pending?.length ?? 0;
          const buf = prior > 0 ? Buffer.concat([this.pending!, chunk.subarray(i)]) : chunk.subarray(i);
          const end = buf.indexOf(CRLFCRLF, Math.max(0, prior - 3));
          if (end < 0) {
            if (buf.length > this.maxHeadBytes) throw new ResponseFramingError(`response head larger than ${this.maxHeadBytes} bytes`);
            this.pending = Buffer.from(buf); // copy: the caller's chunk may be reused
            return n;
          }
          this.pending = undefined;
          i += end + 4 - prior;
          this.onHead(buf.subarray(0, end).toString('latin1'));
          break;
        }
        case 'length':
          i = this.takeBody(chunk, i);
          if (this.remaining === 0) this.state = 'done';
          break;
        case 'close':
          this.events.onBody?.(chunk.subarray(i));
          i = n;
          break;
        case 'chunk-size':
        case 'trailers': {
          const nl = chunk.indexOf(10, i);
          const upto = nl < 0 ? n : nl;
          this.line += chunk.toString('latin1', i, upto);
          if (this.line.length > MAX_LINE) throw new ResponseFramingError('chunk size or trailer line too long');
          i = upto;
          if (nl < 0) break;
          i++; // the LF
          if (!this.line.endsWith('\r')) throw new ResponseFramingError('bare LF in chunked framing');
          const line = this.line.slice(0, -1);
          this.line = '';
          if (this.state === 'chunk-size') this.onChunkSize(line);
          else this.onTrailerLine(line);
          break;
        }
        case 'chunk-data':
          i = this.takeBody(chunk, i);
          if (this.remaining === 0) { this.state = 'chunk-data-end'; this.crlfSeen = 0; }
          break;
        case 'chunk-data-end': {
          const expected = this.crlfSeen === 0 ? 13 : 10;
          if (chunk[i] !== expected) throw new ResponseFramingError('chunk data not followed by CRLF');
          i++;
          if (++this.crlfSeen === 2) this.state = 'chunk-size';
          break;
        }
      }
    }
    return i;
  }

  /** The connection ended; returns whether that completed the response (a close-delimited body). */
  end(): boolean {
    if (this.state === 'close') this.state = 'done';
    return this.state === 'done';
  }

  /** Up to `remaining` body bytes from `chunk` at `i`; returns the new offset. */
  private takeBody(chunk: Buffer, i: number): number {
    const take = Math.min(this.remaining, chunk.length - i);
    this.events.onBody?.(chunk.subarray(i, i + take));
    this.remaining -= take;
    return i + take;
  }

  private onHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (!m) throw new ResponseFramingError('malformed status line');
    const version = `1.${m[1]}`;
    const status = Number(m[2]);
    const rawHeaders = parseFieldLines(lines, 1);
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection = '';
    for (let j = 0; j < rawHeaders.length; j += 2) {
      const name = rawHeaders[j]!.toLowerCase();
      const value = rawHeaders[j + 1]!;
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== value)) throw new ResponseFramingError('invalid or conflicting Content-Length');
        contentLength = value;
      } else if (name === 'transfer-encoding') {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (name === 'connection') {
        connection += `,${value.toLowerCase()}`;
      }
    }
    const head: ResponseHead = { status, reason: m[3] ?? '', version, rawHeaders };
    if (status >= 100 && status < 200 && status !== 101) {
      this.events.onHead?.(head, true);
      return; // another head follows
    }
    this.status = status;
    const tokens = connection.split(',').map((t) => t.trim());
    this.keepAliveHead = version === '1.1' ? !tokens.includes('close') : tokens.includes('keep-alive');
    this.events.onHead?.(head, false);
    if (status === 101) { this.keepAliveHead = false; this.state = 'done'; return; }
    if (this.headRequest || status === 204 || status === 304) { this.state = 'done'; return; }
    if (transferEncoding !== undefined) {
      const codings = transferEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
      if (codings.at(-1) === 'chunked') { this.state = 'chunk-size'; return; }
      this.keepAliveHead = false;
      this.state = 'close';
      return;
    }
    if (contentLength !== undefined) {
      this.remaining = Number(contentLength);
      this.state = this.remaining === 0 ? 'done' : 'length';
      return;
    }
    this.keepAliveHead = false;
    this.state = 'close';
  }

  private onChunkSize(line: string): void {
    const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
    if (!m) throw new ResponseFramingError('invalid chunk size');
    const size = parseInt(m[1]!, 16);
    if (size === 0) { this.state = 'trailers'; this.trailerLines = []; return; }
    this.remaining = size;
    this.state = 'chunk-data';
  }

  private onTrailerLine(line: string): void {
    if (line !== '') {
      this.trailerLines.push(line);
      if (this.trailerLines.length > 1000) throw new ResponseFramingError('too many trailer lines');
      return;
    }
    this.state = 'done';
    this.events.onTrailers?.(parseFieldLines(this.trailerLines, 0));
  }
}

/** `name: value` lines → rawHeaders; obs-fold and lines without a colon are errors. */
function parseFieldLines(lines: readonly string[], from: number): string[] {
  const out: string[] = [];
  for (let j = from; j < lines.length; j++) {
    const line = lines[j]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9) throw new ResponseFramingError('malformed header line');
    out.push(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}
