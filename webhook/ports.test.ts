import { describe, expect, it } from '@jest/globals';
import { isValidPortName, planRenamedPortName } from './ports.js';

describe('planRenamedPortName', () => {
  it.each([
    { name: 'http', taken: [], expected: 'dt-http' },
    { name: 'grpc-web', taken: [], expected: 'dt-grpc-web' },
    { name: 'metrics-service', taken: [], expected: 'dt-metrics-serv' },
    { name: 'abcdefghijk-mn', taken: [], expected: 'dt-abcdefghijk' }, // cut before a dash: no trailing dash
    { name: 'http', taken: ['dt-http'], expected: 'dt-http2' },
    { name: 'http', taken: ['dt-http', 'dt-http2'], expected: 'dt-http3' },
    { name: 'metrics-service', taken: ['dt-metrics-serv'], expected: 'dt-metrics-ser2' },
  ])('$name (taken: $taken) → $expected', ({ name, taken, expected }) => {
    const result = planRenamedPortName(name, new Set(taken));
    expect(result).toBe(expected);
    expect(isValidPortName(result)).toBe(true);
  });
});

describe('isValidPortName', () => {
  it.each([
    ['http', true], ['dt-http', true], ['a1', true], ['123', false], ['-http', false], ['http-', false],
    ['ht--tp', false], ['Http', false], ['sixteen-chars-xx', false], ['', false],
  ])('%s → %s', (name, valid) => expect(isValidPortName(name)).toBe(valid));
});
