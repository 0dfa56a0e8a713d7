import { describe, expect, it } from '@jest/globals';
import { buildSidecarNodeOptions, parseMemoryQuantity } from './node-options.js';

describe('parseMemoryQuantity', () => {
  it.each([
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['500M', 500e6],
    ['134217728', 134217728],
    ['1e9', 1e9],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['12k', 12000],
  ])('%s', (q, bytes) => expect(parseMemoryQuantity(q)).toBe(bytes));

  it.each([[undefined], [''], ['128 MiB'], ['-1Mi'], ['0'], ['lots'], ['128mi']])('refuses %s', (q) => expect(parseMemoryQuantity(q)).toBeUndefined());
});

describe('buildSidecarNodeOptions', () => {
  it.each([
    ['the chart default', '128Mi', '--max-semi-space-size=4 --max-old-space-size=51'],
    ['a small limit keeps the floors', '32Mi', '--max-semi-space-size=1 --max-old-space-size=16'],
    ['a large limit caps the semi-space at V8 default', '2Gi', '--max-semi-space-size=16 --max-old-space-size=819'],
    ['256Mi', '256Mi', '--max-semi-space-size=8 --max-old-space-size=102'],
    ['no limit: V8 defaults', undefined, undefined],
    ['an unparseable limit: V8 defaults', 'big', undefined],
  ])('%s', (_name, limit, options) => expect(buildSidecarNodeOptions(limit)).toBe(options));
});
