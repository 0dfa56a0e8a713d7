// The chunked transfer coding (RFC 9112 §7.1) as a byte-counting state machine: it tracks where a
// chunked body ends without copying or decoding it, so the data plane can splice the original bytes.
// Strict: a chunk size is hex digits only (at most 13: 2^52), an extension is `;name[=token]`
// without whitespace, every line ends in CRLF, trailer lines are `name:value` with no obs-fold and
// no control characters. Used on request bodies (where a lenient reading is a smuggling vector) and
// on the app's responses alike. Pure apart from its own state.

import { isFieldValueByte, isTchar } from './http1-request-head.js';

const enum S {
  Size, SizeMore, ExtNameStart, ExtName, ExtValueStart, ExtValue, SizeLf,
  Data, DataCr, DataLf, TrailerStart, TrailerName, TrailerValue, TrailerLf, FinalLf, Done,
}

const MAX_SIZE_DIGITS = 13;

export class ChunkedFraming {
  private state = S.Size;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private trailerBytes = 0;
  /** The current trailer's name, lower-case (first 20 characters). */
  private trailerName = '';
  /** Why the body was refused, once `feed` returned -1. */
  error: string | undefined;

  constructor(private readonly maxTrailerBytes = 16 * 1024) {}

  get done(): boolean { return this.state === S.Done; }

  /**
   * Reads `buf[start, end)`. Returns the offset just past the body's last byte when the body ended
   * in this range, `end` when more is needed, or -1 when the bytes are not valid chunked framing.
   */
  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      switch (this.state) {
        case S.Data: {
          const n = Math.min(this.remaining, end - i);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = S.DataCr;
          continue;
        }
        case S.Size:
        case S.SizeMore: {
          const h = hexValue(c);
          if (h >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail('chunk size too large');
            this.size = this.size * 16 + h;
            this.state = S.SizeMore;
          } else if (this.state === S.Size) return this.fail('invalid chunk size');
          else if (c === 0x3b) this.state = S.ExtNameStart;
          else if (c === 0x0d) this.state = S.SizeLf;
          else return this.fail('invalid chunk size');
          break;
        }
        case S.ExtNameStart:
          if (!isTchar(c)) return this.fail('invalid chunk extension');
          this.state = S.ExtName;
          break;
        case S.ExtName:
        case S.ExtValue:
          if (isTchar(c)) break;
          if (c === 0x3b) this.state = S.ExtNameStart;
          else if (c === 0x0d) this.state = S.SizeLf;
          else if (c === 0x3d && this.state === S.ExtName) this.state = S.ExtValueStart;
          else return this.fail('invalid chunk extension');
          break;
        case S.ExtValueStart:
          if (!isTchar(c)) return this.fail('invalid chunk extension');
          this.state = S.ExtValue;
          break;
        case S.SizeLf:
          if (c !== 0x0a) return this.fail('chunk size line must end with CRLF');
          if (this.size === 0) this.state = S.TrailerStart;
          else { this.remaining = this.size; this.state = S.Data; }
          this.size = 0;
          this.digits = 0;
          break;
        case S.DataCr:
          if (c !== 0x0d) return this.fail('chunk data must end with CRLF');
          this.state = S.DataLf;
          break;
        case S.DataLf:
          if (c !== 0x0a) return this.fail('chunk data must end with CRLF');
          this.state = S.Size;
          break;
        case S.TrailerStart:
          if (c === 0x0d) this.state = S.FinalLf;
          else if (isTchar(c)) { this.state = S.TrailerName; this.trailerName = String.fromCharCode(c | 0x20); }
          else return this.fail('invalid trailer line');
          break;
        case S.TrailerName:
          if (c === 0x3a) {
            // Framing fields have no business in trailers; Node's parser refuses them too.
            if (this.trailerName === 'content-length' || this.trailerName === 'transfer-encoding') return this.fail(`${this.trailerName} in trailers`);
            this.state = S.TrailerValue;
          } else if (!isTchar(c)) return this.fail('invalid trailer name');
          else if (this.trailerName.length < 20) this.trailerName += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
          break;
        case S.TrailerValue:
          if (c === 0x0d) this.state = S.TrailerLf;
          else if (!isFieldValueByte(c)) return this.fail('invalid character in a trailer');
          break;
        case S.TrailerLf:
          if (c !== 0x0a) return this.fail('trailer line must end with CRLF');
          this.state = S.TrailerStart;
          break;
        case S.FinalLf:
          if (c !== 0x0a) return this.fail('chunked body must end with CRLF');
          this.state = S.Done;
          return i + 1;
        case S.Done:
          return i;
      }
      if (this.state >= S.TrailerStart && ++this.trailerBytes > this.maxTrailerBytes) return this.fail('trailers too large');
      i++;
    }
    return end;
  }

  private fail(reason: string): number {
    this.error = reason;
    return -1;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
