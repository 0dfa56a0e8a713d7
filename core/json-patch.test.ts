import { describe, expect, it } from '@jest/globals';
import { applyJsonPatch, buildPointer, JsonPatchError, parsePointer, type JsonPatchOperation } from './json-patch.js';

describe('JSON pointers', () => {
  it('escapes ~ and / in tokens and round-trips', () => {
    expect(buildPointer('metadata', 'annotations', 'detour.dev/injected')).toBe('/metadata/annotations/detour.dev~1injected');
    expect(buildPointer('a~b/c')).toBe('/a~0b~1c');
    expect(parsePointer('/a~0b~1c/0')).toEqual(['a~b/c', '0']);
    expect(parsePointer('/~01')).toEqual(['~1']);
  });
});

describe('applyJsonPatch (RFC 6902)', () => {
  const cases: { name: string; doc: unknown; ops: JsonPatchOperation[]; expected: unknown }[] = [
    { name: 'add object member', doc: { foo: 'bar' }, ops: [{ op: 'add', path: '/baz', value: 'qux' }], expected: { foo: 'bar', baz: 'qux' } },
    { name: 'add array element', doc: { foo: ['bar', 'baz'] }, ops: [{ op: 'add', path: '/foo/1', value: 'qux' }], expected: { foo: ['bar', 'qux', 'baz'] } },
    { name: 'append with -', doc: { foo: [1] }, ops: [{ op: 'add', path: '/foo/-', value: 2 }], expected: { foo: [1, 2] } },
    { name: 'remove', doc: { baz: 'qux', foo: 'bar' }, ops: [{ op: 'remove', path: '/baz' }], expected: { foo: 'bar' } },
    { name: 'replace', doc: { baz: 'qux', foo: 'bar' }, ops: [{ op: 'replace', path: '/baz', value: 'boo' }], expected: { baz: 'boo', foo: 'bar' } },
    { name: 'replace array element', doc: { a: [1, 2, 3] }, ops: [{ op: 'replace', path: '/a/1', value: 9 }], expected: { a: [1, 9, 3] } },
    { name: 'move', doc: { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, ops: [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }], expected: { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } } },
    { name: 'copy', doc: { a: { b: 1 } }, ops: [{ op: 'copy', from: '/a', path: '/c' }], expected: { a: { b: 1 }, c: { b: 1 } } },
    { name: 'test passes', doc: { a: [1, { b: 2 }] }, ops: [{ op: 'test', path: '/a', value: [1, { b: 2 }] }], expected: { a: [1, { b: 2 }] } },
    { name: 'escaped key', doc: { 'a/b': 1 }, ops: [{ op: 'replace', path: '/a~1b', value: 2 }], expected: { 'a/b': 2 } },
  ];
  it.each(cases)('$name', ({ doc, ops, expected }) => {
    const before = structuredClone(doc);
    expect(applyJsonPatch(doc, ops)).toEqual(expected);
    expect(doc).toEqual(before);
  });

  it.each<[string, unknown, JsonPatchOperation[]]>([
    ['add below a missing parent', { a: 1 }, [{ op: 'add', path: '/b/c', value: 1 }]],
    ['remove a missing member', { a: 1 }, [{ op: 'remove', path: '/b' }]],
    ['replace a missing member', { a: 1 }, [{ op: 'replace', path: '/b', value: 1 }]],
    ['array index out of bounds', { a: [1] }, [{ op: 'add', path: '/a/5', value: 1 }]],
    ['leading zero index', { a: [1, 2] }, [{ op: 'replace', path: '/a/01', value: 1 }]],
    ['failing test', { a: 1 }, [{ op: 'test', path: '/a', value: 2 }]],
  ])('rejects: %s', (_name, doc, ops) => {
    expect(() => applyJsonPatch(doc, ops)).toThrow(JsonPatchError);
  });
});
