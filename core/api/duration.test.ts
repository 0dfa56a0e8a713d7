import { describe, expect, it } from '@jest/globals';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['8h', 8 * 3_600_000],
    ['90m', 90 * 60_000],
    ['1h30m', 90 * 60_000],
    ['1.5s', 1500],
    ['300ms', 300],
    ['8 hours', undefined],
    ['', undefined],
    ['-5m', undefined],
    ['10', undefined],
  ])('%s → %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
