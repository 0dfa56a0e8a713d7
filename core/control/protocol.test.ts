import { describe, expect, it } from '@jest/globals';
import { parseSidecarMessage } from './protocol.js';

const report = (intercepts: unknown, pod: unknown = 'checkout-1') => JSON.stringify({ type: 'report', pod, intercepts });
const entry = (over: Record<string, unknown> = {}) => ({ clients: 1, routed: 2, fallback: 0, ...over });

describe('parseSidecarMessage', () => {
  it.each<[string, string]>([
    ['not json', 'not JSON'],
    ['[]', 'not an object'],
    ['{"type":"goodbye"}', 'unknown message type'],
    ['{"type":"hello"}', 'hello.version'],
    [JSON.stringify({ type: 'hello', version: 'x'.repeat(65), protocol: 2 }), 'hello.version'],
    ['{"type":"hello","version":"0.2.0","protocol":"2"}', 'hello.protocol'],
    ['{"type":"ack","epoch":5,"version":1}', 'ack.epoch'],
    [JSON.stringify({ type: 'ack', epoch: 'x'.repeat(65), version: 1 }), 'ack.epoch'],
    ['{"type":"ack","epoch":"e","version":-1}', 'ack.version'],
    ['{"type":"ack","epoch":"e","version":1.5}', 'ack.version'],
    [report({ 'shop/a': entry({ clients: '5' }) }), 'clients must be an integer'],
    [report({ 'shop/a': entry({ clients: 10_001 }) }), 'clients must be an integer'],
    [report({ 'shop/a': entry({ clients: -1 }) }), 'clients must be an integer'],
    [report({ 'shop/a': entry({ clients: null }) }), 'clients must be an integer'],
    [report({ 'shop/a': entry({ routed: 1e300 }) }), 'routed'],
    [report({ 'shop/a': entry({ fallback: '0' }) }), 'fallback'],
    [report({ 'shop/a': 3 }), 'must be an object'],
    [report({ 'not-a-key': entry() }), 'is not namespace/name'],
    [report({ ['shop/' + 'a'.repeat(400)]: entry() }), 'is not namespace/name'],
    [report({ '__proto__/x': entry() }), 'is not namespace/name'],
    [report([entry()]), 'report.intercepts must be an object'],
    [report(Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`shop/i${i}`, entry()]))), 'more than 256'],
    [report({}, 42), 'report.pod'],
  ])('refuses %s', (text, why) => {
    const r = parseSidecarMessage(text);
    expect('error' in r && r.error).toContain(why);
  });

  it('keeps exactly the known fields of a valid report and ack', () => {
    expect(parseSidecarMessage(report({ 'shop/alice-checkout': entry({ extra: 'dropped' }) }))).toEqual({ type: 'report', pod: 'checkout-1', intercepts: { 'shop/alice-checkout': { clients: 1, routed: 2, fallback: 0 } } });
    expect(parseSidecarMessage('{"type":"ack","epoch":"0000000003-ab12","version":7}')).toEqual({ type: 'ack', epoch: '0000000003-ab12', version: 7 });
    expect(parseSidecarMessage('{"type":"hello","version":"0.2.0","protocol":2,"x":1}')).toEqual({ type: 'hello', version: '0.2.0', protocol: 2 });
  });
});
