// RFC 6901 JSON pointers and a small RFC 6902 JSON Patch applier. The webhook produces patches;
// tests (and anyone who wants to preview a patch) apply them with `applyJsonPatch`.

export type JsonPatchOperation =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'test'; path: string; value: unknown }
  | { op: 'move'; from: string; path: string }
  | { op: 'copy'; from: string; path: string };

/** Escapes one reference token (RFC 6901 §3): `~` → `~0`, `/` → `~1`. */
export function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Builds a pointer from unescaped tokens: `buildPointer('metadata', 'labels', 'detour.dev/inject')`. */
export function buildPointer(...tokens: (string | number)[]): string {
  return tokens.map((t) => '/' + escapePointerToken(t)).join('');
}

/** Splits a pointer into unescaped tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`invalid JSON pointer "${pointer}"`);
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export class JsonPatchError extends Error {
  override readonly name = 'JsonPatchError';
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

function arrayIndex(token: string, length: number, allowEnd: boolean): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new JsonPatchError(`invalid array index "${token}"`);
  const i = Number(token);
  if (i > length || (!allowEnd && i === length)) throw new JsonPatchError(`array index ${i} out of bounds`);
  return i;
}

function resolveParent(doc: unknown, tokens: string[]): Container {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false)];
    else if (isContainer(node) && Object.prototype.hasOwnProperty.call(node, token)) node = (node as Record<string, unknown>)[token];
    else throw new JsonPatchError(`path segment "${token}" does not exist`);
  }
  if (!isContainer(node)) throw new JsonPatchError('parent is not an object or array');
  return node;
}

function get(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false)];
    else if (isContainer(node) && Object.prototype.hasOwnProperty.call(node, token)) node = (node as Record<string, unknown>)[token];
    else throw new JsonPatchError(`path "${pointer}" does not exist`);
  }
  return node;
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const parent = resolveParent(doc, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
  else parent[last] = value;
  return doc;
}

function remove(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new JsonPatchError('cannot remove the whole document');
  const parent = resolveParent(doc, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1);
  else if (Object.prototype.hasOwnProperty.call(parent, last)) delete parent[last];
  else throw new JsonPatchError(`path "${pointer}" does not exist`);
  return doc;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isContainer(a) && isContainer(b) && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Applies `ops` to a copy of `doc` (the input is never modified). Throws JsonPatchError on a failing op. */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOperation[]): T {
  let result: unknown = structuredClone(doc);
  for (const op of ops) {
    switch (op.op) {
      case 'add': result = add(result, op.path, structuredClone(op.value)); break;
      case 'remove': result = remove(result, op.path); break;
      case 'replace': get(result, op.path); result = op.path === '' ? structuredClone(op.value) : add(remove(result, op.path), op.path, structuredClone(op.value)); break;
      case 'test': if (!deepEqual(get(result, op.path), op.value)) throw new JsonPatchError(`test failed at "${op.path}"`); break;
      case 'move': { const v = get(result, op.from); result = add(remove(result, op.from), op.path, v); break; }
      case 'copy': result = add(result, op.path, structuredClone(get(result, op.from))); break;
      default: throw new JsonPatchError(`unknown op ${(op as { op: unknown }).op as string}`);
    }
  }
  return result as T;
}
