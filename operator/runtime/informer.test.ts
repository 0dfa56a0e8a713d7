// The informer driven through its parameters: a fake API (list + watch streams the test controls)
// and fake timers (time moves only when the test says so). No module mocking, no wall clock.
import { describe, expect, it } from '@jest/globals';
import { buildLogger } from '../../core/logging.js';
import type { RequestInput } from '../../core/kube/client.js';
import { Informer, type InformerOptions } from './informer.js';
import { FakeTimers, settle } from '../../test/fixtures/fake-timers.js';

interface Obj { metadata: { name: string; namespace: string; resourceVersion: string } }
type WatchEvent = { type: string; object: unknown };

class FakeWatch {
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  constructor(readonly rv: string, private readonly onObject: (o: unknown) => void, readonly signal: AbortSignal, hangUntilAbort: boolean) {
    this.done = new Promise<void>((res, rej) => { this.resolve = res; this.reject = rej; });
    // The real client resolves on abort once the stream is open; before the server answered the
    // request rejects with an AbortError.
    const onAbort = () => (hangUntilAbort ? this.reject(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })) : this.resolve());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  send(ev: WatchEvent): void { this.onObject(ev); }
  end(): void { this.resolve(); }
  fail(err: unknown): void { this.reject(err); }
}

const apiError = (code: number, reason: string) => Object.assign(new Error(`GET failed with HTTP ${code}`), { code, body: JSON.stringify({ kind: 'Status', code, reason }) });

/** An API server holding one collection: objects with resourceVersions, lists, and watches the test drives. */
class FakeApi {
  private rv = 0;
  readonly objects = new Map<string, Obj>();
  readonly watches: FakeWatch[] = [];
  readonly listFailures: unknown[] = [];
  readonly watchFailures: unknown[] = [];
  /** Watch requests that get no answer until aborted (a hung connection). */
  hangWatches = false;

  put(name: string): Obj {
    const o = { metadata: { name, namespace: 'ns', resourceVersion: String(++this.rv) } };
    this.objects.set(name, o);
    return o;
  }

  remove(name: string): Obj {
    const o = this.objects.get(name)!;
    this.objects.delete(name);
    this.rv++;
    return o;
  }

  latestWatch(): FakeWatch { return this.watches[this.watches.length - 1]!; }

  readonly client: InformerOptions<Obj>['client'] = {
    request: async <T,>(_method: string, _path: string, _input?: RequestInput): Promise<T> => {
      const failure = this.listFailures.shift();
      if (failure) throw failure;
      return { items: [...this.objects.values()], metadata: { resourceVersion: String(this.rv) } } as T;
    },
    stream: (_path, query, onObject, signal) => {
      const failure = this.watchFailures.shift();
      if (failure) return Promise.reject(failure);
      const w = new FakeWatch(String(query?.resourceVersion), onObject, signal, this.hangWatches);
      this.watches.push(w);
      return w.done;
    },
  };
}

function startInformer(api: FakeApi, timers: FakeTimers, over: Partial<InformerOptions<Obj>> = {}) {
  const seen: string[] = [];
  const inf = new Informer<Obj>({
    name: 'things',
    client: api.client,
    path: '/apis/example.dev/v1/things',
    logger: buildLogger({ name: 'test', level: 'silent' }),
    timers,
    backoffInitialMs: 100,
    backoffMaxMs: 800,
    staleAfterMs: 1000,
    handlers: {
      onAdd: (o) => seen.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
      onUpdate: (a, b) => seen.push(`update ${a.metadata.name}@${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}@${o.metadata.resourceVersion}`),
    },
    ...over,
  });
  inf.start();
  /** Handler calls since the last call. */
  const take = () => seen.splice(0);
  const cache = () => inf.list().map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
  return { inf, take, cache };
}

describe('Informer', () => {
  it('lists, then watches from the list resourceVersion and applies events to the cache', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.put('a'); api.put('b');
    const { inf, take, cache } = startInformer(api, timers);
    await settle();
    expect(inf.hasSynced()).toBe(true);
    expect(take()).toEqual(['add a@1', 'add b@2']);
    expect(api.watches.map((w) => w.rv)).toEqual(['2']);
    api.latestWatch().send({ type: 'ADDED', object: api.put('c') });
    api.latestWatch().send({ type: 'MODIFIED', object: api.put('a') });
    api.latestWatch().send({ type: 'DELETED', object: api.remove('b') });
    expect(take()).toEqual(['add c@3', 'update a@1->4', 'delete b@2']);
    expect(cache()).toEqual(['a@4', 'c@3']);
    await inf.stop();
  });

  it('keeps its indexes in step with the cache through adds, updates, deletes and relists', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.put('a'); api.put('b');
    // Index by resourceVersion parity, so an update moves an object between index values.
    const parity = (o: Obj) => [Number(o.metadata.resourceVersion) % 2 === 0 ? 'even' : 'odd'];
    const { inf } = startInformer(api, timers, { indexers: { parity } });
    await settle();
    const names = (v: string) => inf.byIndex('parity', v).map((o) => o.metadata.name).sort();
    expect([names('odd'), names('even')]).toEqual([['a'], ['b']]);
    api.latestWatch().send({ type: 'ADDED', object: api.put('c') }); // @3
    api.latestWatch().send({ type: 'MODIFIED', object: api.put('a') }); // @4
    expect([names('odd'), names('even')]).toEqual([['c'], ['a', 'b']]);
    api.latestWatch().send({ type: 'DELETED', object: api.remove('b') });
    expect([names('odd'), names('even')]).toEqual([['c'], ['a']]);
    api.put('c'); // @6, missed: seen only by the relist after a 410
    api.latestWatch().send({ type: 'ERROR', object: { code: 410 } });
    await settle();
    expect([names('odd'), names('even')]).toEqual([[], ['a', 'c']]);
    expect(() => inf.byIndex('nope', 'x')).toThrow(/no index nope/);
    await inf.stop();
  });

  it('relists after a 410 Gone and hands the handler exactly the difference: what changed unseen is added, updated or deleted once', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    for (const n of ['a', 'b', 'c']) api.put(n);
    const { inf, take, cache } = startInformer(api, timers);
    await settle();
    take();
    const first = api.latestWatch();
    first.send({ type: 'MODIFIED', object: api.put('a') });
    expect(take()).toEqual(['update a@1->4']);
    // Changes the watch never delivers (they fell out of the server's window), then the 410.
    api.put('b'); api.remove('c'); api.put('d');
    first.send({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } });
    await settle();

    expect(first.signal.aborted).toBe(true);
    expect(inf.lists).toBe(2);
    expect(take()).toEqual(['update b@2->5', 'add d@7', 'delete c@3']); // a, unchanged, is not replayed
    expect(cache()).toEqual(['a@4', 'b@5', 'd@7']);
    expect(api.watches.map((w) => w.rv)).toEqual(['3', '7']); // the new watch starts from the relist
    expect(timers.sleeps).toEqual([]); // a relist, not an error: no backoff
    // The new watch keeps the cache current.
    api.latestWatch().send({ type: 'DELETED', object: api.remove('d') });
    expect(take()).toEqual(['delete d@7']);
    await inf.stop();
  });

  it('relists at once when the watch request itself is answered with HTTP 410', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.put('a');
    api.watchFailures.push(apiError(410, 'Expired'));
    const { inf, take, cache } = startInformer(api, timers);
    await settle();
    expect(inf.lists).toBe(2);
    expect(timers.sleeps).toEqual([]);
    expect(take()).toEqual(['add a@1']);
    expect(cache()).toEqual(['a@1']);
    expect(api.watches).toHaveLength(1);
    await inf.stop();
  });

  it('restarts after watch errors with growing delays capped at the maximum, relisting each time, and starts over once a watch works', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.put('a');
    api.watchFailures.push(apiError(500, 'InternalError'), new Error('socket hang up'), apiError(429, 'TooManyRequests'), apiError(503, 'ServiceUnavailable'), new Error('ECONNRESET'), apiError(500, 'InternalError'));
    const { inf, take } = startInformer(api, timers);
    await settle();
    expect(timers.sleeps).toEqual([100]);
    expect(inf.lists).toBe(1);
    // Nothing happens before the delay is over.
    await timers.advance(99);
    expect(inf.lists).toBe(1);
    for (const d of [1, 200, 400, 800, 800, 800]) await timers.advance(d);
    expect(timers.sleeps).toEqual([100, 200, 400, 800, 800, 800]);
    expect(inf.lists).toBe(7);
    expect(api.watches).toHaveLength(1); // the seventh watch opened
    // A change made meanwhile arrives through the relists, once.
    expect(take()).toEqual(['add a@1']);

    // A watch that delivered an event was healthy: the next failure starts from the initial delay.
    api.latestWatch().send({ type: 'ADDED', object: api.put('b') });
    api.latestWatch().fail(new Error('socket hang up'));
    await settle();
    expect(timers.sleeps.slice(6)).toEqual([100]);
    await inf.stop();
  });

  it('backs off the same way while the list fails', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.put('a');
    api.listFailures.push(apiError(500, 'InternalError'), apiError(500, 'InternalError'), apiError(403, 'Forbidden'), apiError(500, 'InternalError'), apiError(500, 'InternalError'));
    const { inf, take } = startInformer(api, timers);
    await settle();
    expect(inf.hasSynced()).toBe(false);
    for (const d of [100, 200, 400, 800, 800]) await timers.advance(d);
    expect(timers.sleeps).toEqual([100, 200, 400, 800, 800]);
    expect(inf.hasSynced()).toBe(true);
    expect(take()).toEqual(['add a@1']);
    await inf.stop();
  });

  it('treats an ERROR event other than 410 in the stream as an error to back off from, not a reason to re-watch at once', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    const { inf } = startInformer(api, timers);
    await settle();
    api.latestWatch().send({ type: 'ERROR', object: { kind: 'Status', code: 500, reason: 'InternalError' } });
    await settle();
    expect(timers.sleeps).toEqual([100]);
    expect(api.watches).toHaveLength(1);
    await timers.advance(100);
    expect(inf.lists).toBe(2);
    expect(api.watches).toHaveLength(2);
    await inf.stop();
  });

  it('restarts a watch that stays silent past the staleness limit and catches up by relisting', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.put('a');
    const { inf, take, cache } = startInformer(api, timers);
    await settle();
    take();
    const first = api.latestWatch();
    await timers.advance(999);
    first.send({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '1' } } }); // a bookmark is a sign of life
    await timers.advance(999);
    expect(first.signal.aborted).toBe(false);
    expect(inf.lists).toBe(1);
    // The watch goes silent while the world changes.
    api.put('a'); api.put('b');
    await timers.advance(1);
    expect(first.signal.aborted).toBe(true);
    expect(inf.lists).toBe(2);
    expect(take()).toEqual(['update a@1->2', 'add b@3']);
    expect(cache()).toEqual(['a@2', 'b@3']);
    expect(api.watches.map((w) => w.rv)).toEqual(['1', '3']);
    expect(timers.sleeps).toEqual([]);
    await inf.stop();
  });

  it('gives up on a watch request the server never answers, after the staleness limit', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.hangWatches = true;
    const { inf } = startInformer(api, timers);
    await settle();
    await timers.advance(1000);
    expect(api.watches[0]!.signal.aborted).toBe(true);
    expect(inf.lists).toBe(2);
    expect(api.watches).toHaveLength(2);
    expect(timers.sleeps).toEqual([]);
    await inf.stop();
  });

  it('re-watches from the last resourceVersion seen when the server ends a watch, without relisting', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    const { inf } = startInformer(api, timers);
    await settle();
    api.latestWatch().send({ type: 'ADDED', object: api.put('a') });
    api.latestWatch().send({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '9' } } });
    api.latestWatch().end();
    await settle();
    expect(api.watches.map((w) => w.rv)).toEqual(['0', '9']);
    expect(inf.lists).toBe(1);
    await inf.stop();
  });

  it('replays every cached object as an update each resync period', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.put('a'); api.put('b');
    const { inf, take } = startInformer(api, timers, { resyncMs: 600, staleAfterMs: 60_000 });
    await settle();
    take();
    await timers.advance(599);
    expect(take()).toEqual([]);
    await timers.advance(1);
    expect(take()).toEqual(['update a@1->1', 'update b@2->2']);
    await timers.advance(600);
    expect(take()).toHaveLength(2);
    await inf.stop();
    await timers.advance(600);
    expect(take()).toEqual([]);
  });

  it('stops promptly in the middle of a backoff', async () => {
    const api = new FakeApi();
    const timers = new FakeTimers();
    api.listFailures.push(apiError(500, 'InternalError'));
    const { inf } = startInformer(api, timers);
    await settle();
    expect(timers.sleeps).toEqual([100]);
    await inf.stop(); // resolves without time passing
    await timers.advance(1000);
    expect(inf.lists).toBe(0);
  });
});
