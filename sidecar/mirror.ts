// A best-effort copy of a request to the developer (Mirror mode). The app answers the client; the
// developer's answer is read and discarded. The copy never slows the real request: when the
// developer's stream is not ready for more (its HTTP/2 window and buffer are full), the copy is
// cancelled instead of buffered.

import http2, { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';

export interface MirrorCopy {
  write(chunk: Buffer): void;
  end(): void;
  abort(): void;
}

export function startMirror(session: ClientHttp2Session, headers: OutgoingHttpHeaders, hasBody: boolean, onDone: (ok: boolean) => void): MirrorCopy {
  let finished = false;
  const finish = (ok: boolean): void => { if (!finished) { finished = true; onDone(ok); } };
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(headers, { endStream: !hasBody });
  } catch {
    finish(false);
    return { write() { /* gone */ }, end() { /* gone */ }, abort() { /* gone */ } };
  }
  stream.on('error', () => finish(false));
  stream.on('response', () => stream.resume());
  stream.on('close', () => finish(stream.rstCode === http2.constants.NGHTTP2_NO_ERROR));
  stream.resume();
  const abort = (): void => { if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL); };
  return {
    write(chunk) {
      if (!stream.writable || stream.closed || stream.destroyed) return;
      if (stream.writableNeedDrain) { abort(); return; }
      stream.write(chunk);
    },
    end() { if (stream.writable && !stream.closed && !stream.destroyed) stream.end(); },
    abort,
  };
}
