import { describe, expect, it } from '@jest/globals';
import { classifyDialError, formatOutboundTarget, parseOutboundErrorCode, parseOutboundTarget } from './outbound-protocol.js';

describe('parseOutboundTarget', () => {
  it.each([
    ['redis:6379', { host: 'redis', port: 6379 }],
    ['inventory.shop.svc.cluster.local:8080', { host: 'inventory.shop.svc.cluster.local', port: 8080 }],
    ['10.0.0.1:1', { host: '10.0.0.1', port: 1 }],
    ['[fd00::1]:443', { host: 'fd00::1', port: 443 }],
  ])('%s', (text, want) => expect(parseOutboundTarget(text)).toEqual(want));
  it.each(['redis', 'redis:0', 'redis:65536', ':80', 'a b:80', 'user@host:22', 'fd00::1:443', 'host:80/path'])('refuses %s with a reason', (text) => {
    expect(typeof parseOutboundTarget(text)).toBe('string');
  });
  it('formats IPv6 literals in brackets', () => {
    expect(formatOutboundTarget({ host: 'fd00::1', port: 5432 })).toBe('[fd00::1]:5432');
    expect(formatOutboundTarget({ host: 'db', port: 5432 })).toBe('db:5432');
  });
});

describe('classifyDialError', () => {
  it.each([
    ['ENOTFOUND', 'dns'], ['EAI_AGAIN', 'dns'], ['ECONNREFUSED', 'refused'], ['EHOSTUNREACH', 'unreachable'],
    ['ENETUNREACH', 'unreachable'], ['ETIMEDOUT', 'timeout'], ['EPIPE', 'error'], [undefined, 'error'],
  ])('%s → %s', (errno, code) => expect(classifyDialError(errno)).toBe(code));
  it('reads only known codes from the wire', () => {
    expect(parseOutboundErrorCode('refused')).toBe('refused');
    expect(parseOutboundErrorCode('<script>')).toBe('error');
    expect(parseOutboundErrorCode(undefined)).toBe('error');
  });
});
