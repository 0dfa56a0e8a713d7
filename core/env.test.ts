import { describe, expect, it } from '@jest/globals';
import { EnvError, readEnv } from './env.js';

describe('readEnv', () => {
  it('falls back on unset and empty values', () => {
    const r = readEnv({ A: '' });
    expect(r.string('A', 'x')).toBe('x');
    expect(r.optional('A')).toBeUndefined();
    expect(r.port('P', 8080)).toBe(8080);
    expect(r.boolean('B', true)).toBe(true);
    expect(r.list('L')).toBeUndefined();
    expect(r.json('J')).toBeUndefined();
    expect(() => r.finish()).not.toThrow();
  });

  it('parses good values', () => {
    const r = readEnv({ P: '0', I: '12', B: 'false', M: 'cert-manager', L: ' a, ,b ', J: '{"x":1}' });
    expect(r.port('P', 1)).toBe(0);
    expect(r.integer('I', 1, { min: 1 })).toBe(12);
    expect(r.boolean('B', true)).toBe(false);
    expect(r.oneOf('M', ['self', 'cert-manager'] as const, 'self')).toBe('cert-manager');
    expect(r.list('L')).toEqual(['a', 'b']);
    expect(r.json('J')).toEqual({ x: 1 });
    r.finish();
  });

  it('collects every problem and names each setting', () => {
    const r = readEnv({ P: '70000', I: '-1', B: 'yes', M: 'other', J: '{', F: '1.5' });
    r.port('P', 1);
    r.integer('I', 1);
    r.integer('F', 1);
    r.boolean('B', false);
    r.oneOf('M', ['self', 'cert-manager'] as const, 'self');
    r.json('J');
    r.problem('X is wrong');
    expect(r.problems).toHaveLength(7);
    let error: unknown;
    try { r.finish(); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(EnvError);
    const message = (error as Error).message;
    for (const name of ['P must be a port number, got "70000"', 'I must be an integer from 0', 'F must be', 'B must be true or false', 'M must be one of self, cert-manager', 'J must be JSON', 'X is wrong']) {
      expect(message).toContain(name);
    }
  });
});
