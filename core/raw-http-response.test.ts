import { describe, expect, it } from '@jest/globals';
import { buildRawResponse } from './raw-http-response.js';

describe('buildRawResponse', () => {
  it('writes a closed plain-text response with the reason in the body', () => {
    expect(buildRawResponse(403, 'token refused')).toBe(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\nConnection: close\r\n\r\ntoken refused\n',
    );
  });
  it('repeats the reason in the named header and keeps CR/LF out of it', () => {
    const text = buildRawResponse(400, 'bad\r\nX-Evil: 1', { reasonHeader: 'X-Detour-Reason' });
    expect(text).toContain('X-Detour-Reason: bad  X-Evil: 1\r\n');
    expect(text.split('\r\n').filter((l) => l.startsWith('X-Evil'))).toEqual([]);
  });
  it('counts the body in bytes, not characters', () => {
    expect(buildRawResponse(502, 'é')).toContain('Content-Length: 3\r\n');
  });
});
