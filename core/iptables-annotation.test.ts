import { describe, expect, it } from '@jest/globals';
import { iptablesCovers, parseIptablesAnnotation, type IptablesOptIn } from './iptables-annotation.js';

describe('parseIptablesAnnotation', () => {
  it.each<[string | undefined, IptablesOptIn]>([
    [undefined, { mode: 'off' }],
    ['false', { mode: 'off' }],
    ['true', { mode: 'all' }],
    ['', { mode: 'all' }],
    [' true ', { mode: 'all' }],
    ['8080', { mode: 'ports', ports: [8080], invalid: [] }],
    ['8080, 9000,8080', { mode: 'ports', ports: [8080, 9000], invalid: [] }],
    ['8080,http,0,65536,123456', { mode: 'ports', ports: [8080], invalid: ['http', '0', '65536', '123456'] }],
    ['yes', { mode: 'ports', ports: [], invalid: ['yes'] }],
  ])('%j', (value, expected) => {
    expect(parseIptablesAnnotation(value)).toEqual(expected);
  });
});

describe('iptablesCovers', () => {
  it.each<[string | undefined, number, boolean]>([
    [undefined, 8080, false],
    ['false', 8080, false],
    ['true', 8080, true],
    ['8080', 8080, true],
    ['8080,9000', 9000, true],
    ['9000', 8080, false],
  ])('%j covers %d: %s', (value, port, expected) => {
    expect(iptablesCovers(parseIptablesAnnotation(value), port)).toBe(expected);
  });
});
