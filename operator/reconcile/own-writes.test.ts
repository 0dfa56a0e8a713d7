import { describe, expect, it } from '@jest/globals';
import { OwnWrites, type Versioned } from './own-writes.js';

type Obj = Versioned & { metadata: { uid: string; resourceVersion: string }; tag: string };
const obj = (rv: string, tag = `v${rv}`, uid = 'u1'): Obj => ({ metadata: { uid, resourceVersion: rv }, tag });

describe('OwnWrites', () => {
  // Each case: writes as [from rv, written rv], then what the cache shows, and which object resolves.
  it.each<[string, Array<[string, string]>, Obj, string]>([
    ['no write: the cache', [], obj('1'), 'v1'],
    ['the cache still shows the version we replaced: our write', [['1', '2']], obj('1'), 'v2'],
    ['the cache caught up with our write: the cache', [['1', '2']], obj('2', 'cached2'), 'cached2'],
    ['someone else wrote after us: the cache', [['1', '2']], obj('7'), 'v7'],
    ['two writes in a row, the cache shows the first replaced version: the last write', [['1', '2'], ['2', '3']], obj('1'), 'v3'],
    ['two writes in a row, the cache shows the middle one: the last write', [['1', '2'], ['2', '3']], obj('2'), 'v3'],
    ['a recreated object (new uid) with a replaced version number: the cache', [['1', '2']], obj('1', 'new', 'u2'), 'new'],
  ])('%s', (_name, writes, cached, want) => {
    const w = new OwnWrites<Obj>();
    for (const [from, to] of writes) w.record('k', obj(from), obj(to));
    expect(w.resolve('k', cached).tag).toBe(want);
  });

  it('forgets an entry once the cache caught up, so later stale reads are not masked', () => {
    const w = new OwnWrites<Obj>();
    w.record('k', obj('1'), obj('2'));
    expect(w.resolve('k', obj('2')).tag).toBe('v2');
    expect(w.size()).toBe(0);
    expect(w.resolve('k', obj('1')).tag).toBe('v1');
  });

  it('forget drops what was remembered (after a 409 or a delete)', () => {
    const w = new OwnWrites<Obj>();
    w.record('k', obj('1'), obj('2'));
    w.forget('k');
    expect(w.resolve('k', obj('1')).tag).toBe('v1');
  });
});
