// An informer over the raw JSON client: list, then watch from the list's resourceVersion, with
// what client-node's informer lacks: restart after any error with capped backoff, a relist on 410
// Gone, a staleness watchdog (no event or bookmark for `staleAfterMs` → relist) and a periodic
// resync that replays every cached object as an update. The client (list and watch) and the timers
// are parameters, so unit tests drive it with a fake API and a fake clock.

import type { Logger } from '../../core/logging.js';
import { classifyApiError, describeApiError } from '../../core/errors.js';
import type { KubeClient } from '../../core/kube/client.js';
import { backoffDelay } from '../../core/backoff.js';
import { realTimers, type Timers } from './timers.js';

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T> {
  name: string;
  /** Only `request` (list) and `stream` (watch) are used. */
  client: Pick<KubeClient, 'request' | 'stream'>;
  /** Collection path, e.g. /apis/apps/v1/deployments (all namespaces). */
  path: string;
  labelSelector?: string;
  handlers: InformerHandlers<T>;
  logger: Logger;
  resyncMs?: number;
  staleAfterMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  watchTimeoutSeconds?: number;
  timers?: Timers;
  /**
   * Secondary indexes over the cache: name → the index values of an object. `byIndex(name, value)`
   * then answers in O(matches) instead of scanning the cache.
   */
  indexers?: Record<string, (obj: T) => string[]>;
  /**
   * Shapes each listed or watched object before it is cached (client-go's SetTransform): keep only
   * the fields the operator reads, so a cache of every pod stays small.
   */
  transform?: (obj: T) => T;
}

class Gone extends Error {}

/** An ERROR event other than 410 in a watch stream; `code` and `body.reason` as describeApiError reads them. */
class WatchEventError extends Error {
  readonly body: { reason?: string };
  constructor(readonly code: number | undefined, reason: string | undefined) {
    super(`the watch sent an ERROR event (${code ?? 'no code'}, ${reason ?? 'no reason'})`);
    this.body = { reason };
  }
}

export function objectKey(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  /** index name → index value → object key → object. */
  private readonly indexes = new Map<string, Map<string, Map<string, T>>>();
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private cancelResync?: () => void;
  private readonly timers: Timers;
  /** Times the informer (re)listed; exposed for tests and metrics. */
  lists = 0;

  constructor(private readonly opts: InformerOptions<T>) {
    this.timers = opts.timers ?? realTimers;
    for (const name of Object.keys(opts.indexers ?? {})) this.indexes.set(name, new Map());
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
    const every = this.opts.resyncMs;
    if (every) {
      const schedule = () => {
        this.cancelResync = this.timers.after(every, () => {
          for (const o of this.store.values()) this.opts.handlers.onUpdate?.(o, o);
          if (!this.abort.signal.aborted) schedule();
        });
      };
      schedule();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.cancelResync?.();
    await this.loop;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  size(): number {
    return this.store.size;
  }

  /** Cached objects whose indexer `name` yields `value`. Throws for an index that was not configured. */
  byIndex(name: string, value: string): T[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`informer ${this.opts.name} has no index ${name}`);
    const hits = index.get(value);
    return hits ? [...hits.values()] : [];
  }

  private setObject(key: string, o: T): void {
    const old = this.store.get(key);
    if (old) this.unindex(key, old);
    this.store.set(key, o);
    for (const [name, index] of this.indexes) {
      for (const v of this.opts.indexers![name]!(o)) {
        let hits = index.get(v);
        if (!hits) index.set(v, (hits = new Map()));
        hits.set(key, o);
      }
    }
  }

  private deleteObject(key: string): void {
    const old = this.store.get(key);
    if (!old) return;
    this.unindex(key, old);
    this.store.delete(key);
  }

  private unindex(key: string, o: T): void {
    for (const [name, index] of this.indexes) {
      for (const v of this.opts.indexers![name]!(o)) {
        const hits = index.get(v);
        hits?.delete(key);
        if (hits?.size === 0) index.delete(v);
      }
    }
  }

  private log() {
    return this.opts.logger;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    // Failures in a row; reset only once a watch delivers an event, so a list that succeeds
    // followed by a watch that fails at once still backs off further each time.
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const rv = await this.relist(signal);
        await this.watch(rv, signal, () => { attempt = 0; });
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof Gone || classifyApiError(err) === 'expired') {
          this.log().info({ informer: this.opts.name }, 'Relisting after the watch expired (410 Gone)');
          continue;
        }
        const delay = backoffDelay(attempt++, { initialMs: this.opts.backoffInitialMs ?? 200, maxMs: this.opts.backoffMaxMs ?? 30_000 });
        this.log().warn({ informer: this.opts.name, ...describeApiError(err), retryInMs: delay }, 'Restarting informer after an error');
        await this.timers.sleep(delay, signal);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<string> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.opts.client.request<{ items: T[]; metadata: { resourceVersion: string; continue?: string } }>('GET', this.opts.path, {
        query: { labelSelector: this.opts.labelSelector, limit: 500, continue: cont },
        signal,
      });
      const transform = this.opts.transform;
      items.push(...(transform ? page.items.map(transform) : page.items));
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    this.lists++;
    const seen = new Set<string>();
    for (const o of items) {
      const key = objectKey(o);
      seen.add(key);
      const old = this.store.get(key);
      this.setObject(key, o);
      if (!old) this.opts.handlers.onAdd?.(o);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.opts.handlers.onUpdate?.(old, o);
    }
    for (const [key, o] of [...this.store]) {
      if (!seen.has(key)) {
        this.deleteObject(key);
        this.opts.handlers.onDelete?.(o);
      }
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return rv;
  }

  private async watch(startRv: string, signal: AbortSignal, onProgress: () => void): Promise<void> {
    let rv = startRv;
    const staleAfter = this.opts.staleAfterMs ?? 5 * 60_000;
    while (!signal.aborted) {
      const ac = new AbortController();
      const onOuterAbort = () => ac.abort();
      signal.addEventListener('abort', onOuterAbort, { once: true });
      let stale = false;
      let gone = false;
      let failed: WatchEventError | undefined;
      let cancelWatchdog: (() => void) | undefined;
      const feed = () => {
        cancelWatchdog?.();
        cancelWatchdog = this.timers.after(staleAfter, () => { stale = true; ac.abort(); });
      };
      feed();
      try {
        await this.opts.client.stream(
          this.opts.path,
          { watch: 1, resourceVersion: rv, allowWatchBookmarks: true, labelSelector: this.opts.labelSelector, timeoutSeconds: this.opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 60) },
          (raw) => {
            if (ac.signal.aborted) return;
            feed();
            const ev = raw as { type: string; object: T & { code?: number; reason?: string } };
            if (ev.type === 'ERROR') {
              if (ev.object?.code === 410) gone = true;
              else failed = new WatchEventError(ev.object?.code, ev.object?.reason);
              ac.abort();
              return;
            }
            onProgress();
            if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
            if (ev.type === 'BOOKMARK') return;
            const obj = this.opts.transform ? this.opts.transform(ev.object) : ev.object;
            const key = objectKey(obj);
            const old = this.store.get(key);
            if (ev.type === 'DELETED') {
              this.deleteObject(key);
              this.opts.handlers.onDelete?.(old ?? obj);
            } else {
              this.setObject(key, obj);
              if (old) this.opts.handlers.onUpdate?.(old, obj);
              else this.opts.handlers.onAdd?.(obj);
            }
          },
          ac.signal,
        );
      } catch (err) {
        // The watchdog may fire before the server even answered; that is a silent watch too.
        if (!stale) throw err;
      } finally {
        cancelWatchdog?.();
        signal.removeEventListener('abort', onOuterAbort);
      }
      if (gone) throw new Gone();
      if (failed) throw failed;
      if (stale) {
        this.log().warn({ informer: this.opts.name, staleAfterMs: staleAfter }, 'Relisting after a silent watch');
        return; // relist
      }
    }
  }
}
