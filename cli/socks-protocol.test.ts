import { describe, expect, it } from '@jest/globals';
import { buildSocksReply, parseSocksGreeting, parseSocksRequest, SOCKS_REPLY, socksReplyFor } from './socks-protocol.js';

const domainRequest = (host: string, port: number, cmd = 1): Buffer =>
  Buffer.concat([Buffer.from([5, cmd, 0, 3, host.length]), Buffer.from(host, 'latin1'), Buffer.from([port >> 8, port & 0xff])]);

describe('parseSocksGreeting', () => {
  it.each([
    [[5], { kind: 'incomplete' }],
    [[5, 2, 0], { kind: 'incomplete' }],
    [[5, 2, 2, 0], { kind: 'ok', noAuth: true, length: 4 }],
    [[5, 1, 2], { kind: 'ok', noAuth: false, length: 3 }],
  ])('%j', (bytes, want) => expect(parseSocksGreeting(Buffer.from(bytes))).toEqual(want));
  it('refuses SOCKS4', () => expect(parseSocksGreeting(Buffer.from([4, 1, 0, 80]))).toMatchObject({ kind: 'invalid' }));
});

describe('parseSocksRequest', () => {
  it('reads a host name unresolved (socks5h)', () => {
    expect(parseSocksRequest(domainRequest('redis.cache', 6379))).toEqual({ kind: 'ok', command: 1, host: 'redis.cache', port: 6379, length: 7 + 11 });
  });
  it('reads IPv4 and IPv6 addresses', () => {
    expect(parseSocksRequest(Buffer.from([5, 1, 0, 1, 10, 1, 2, 3, 0, 80]))).toMatchObject({ host: '10.1.2.3', port: 80 });
    const v6 = Buffer.concat([Buffer.from([5, 1, 0, 4]), Buffer.from('fd000000000000000000000000000001', 'hex'), Buffer.from([1, 187])]);
    expect(parseSocksRequest(v6)).toMatchObject({ host: 'fd00:0:0:0:0:0:0:1', port: 443 });
  });
  it('waits for the whole request', () => expect(parseSocksRequest(domainRequest('redis', 6379).subarray(0, 8))).toEqual({ kind: 'incomplete' }));
  it('refuses unknown address types with the matching reply', () => {
    expect(parseSocksRequest(Buffer.from([5, 1, 0, 9, 0, 0, 0]))).toMatchObject({ kind: 'invalid', reply: SOCKS_REPLY.addressTypeNotSupported });
  });
  it('reports the command so BIND/UDP can be refused', () => expect(parseSocksRequest(domainRequest('x', 1, 2))).toMatchObject({ command: 2 }));
});

describe('replies', () => {
  it.each([
    ['dns', SOCKS_REPLY.hostUnreachable], ['refused', SOCKS_REPLY.connectionRefused], ['unreachable', SOCKS_REPLY.networkUnreachable],
    ['timeout', SOCKS_REPLY.ttlExpired], ['tunnel', SOCKS_REPLY.generalFailure],
  ] as const)('%s → %d', (code, reply) => expect(socksReplyFor(code)).toBe(reply));
  it('builds a 10-byte reply', () => expect([...buildSocksReply(5)]).toEqual([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
});
