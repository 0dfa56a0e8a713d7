// An informer over the raw JSON client: list, then watch from the list's resourceVersion, with
// what client-node's informer lacks: restart after any error with capped backoff, a relist on 410
// Gone, a staleness watchdog (no event or bookmark for `staleAfterMs` → relist) and a periodic
// resync that replays every cached object as an update.

import type { Logger } from '../../core/logging.js';
import { describeApiError } from '../../core/errors.js';
import type { KubeClient } from '../../core/kube/client.js';
import { backoffDelay, sleep } from './backoff.js';

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
  client: KubeClient;
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
}

class Gone extends Error {}

export function objectKey(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;
  /** Times the informer (re)listed; exposed for tests and metrics. */
  lists = 0;

  constructor(private readonly opts: InformerOptions<T>) {}

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => {
        for (const o of this.store.values()) this.opts.handlers.onUpdate?.(o, o);
      }, this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
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

  private log() {
    return this.opts.logger;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const rv = await this.relist(signal);
        attempt = 0;
        await this.watch(rv, signal);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof Gone) {
          this.log().info({ informer: this.opts.name }, 'Relisting after the watch expired (410 Gone)');
          continue;
        }
        const delay = backoffDelay(attempt++, this.opts.backoffInitialMs ?? 200, this.opts.backoffMaxMs ?? 30_000);
        this.log().warn({ informer: this.opts.name, ...describeApiError(err), retryInMs: delay }, 'Restarting informer after an error');
        await sleep(delay, signal);
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
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    this.lists++;
    const seen = new Set<string>();
    for (const o of items) {
      const key = objectKey(o);
      seen.add(key);
      const old = this.store.get(key);
      this.store.set(key, o);
      if (!old) this.opts.handlers.onAdd?.(o);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.opts.handlers.onUpdate?.(old, o);
    }
    for (const [key, o] of [...this.store]) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.opts.handlers.onDelete?.(o);
      }
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return rv;
  }

  private async watch(startRv: string, signal: AbortSignal): Promise<void> {
    let rv = startRv;
    const staleAfter = this.opts.staleAfterMs ?? 5 * 60_000;
    while (!signal.aborted) {
      const ac = new AbortController();
      const onOuterAbort = () => ac.abort();
      signal.addEventListener('abort', onOuterAbort, { once: true });
      let stale = false;
      let gone = false;
      let watchdog: NodeJS.Timeout | undefined;
      const feed = () => {
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(() => { stale = true; ac.abort(); }, staleAfter);
        watchdog.unref();
      };
      feed();
      try {
        await this.opts.client.stream(
          this.opts.path,
          { watch: 1, resourceVersion: rv, allowWatchBookmarks: true, labelSelector: this.opts.labelSelector, timeoutSeconds: this.opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 60) },
          (raw) => {
            feed();
            const ev = raw as { type: string; object: T & { code?: number } };
            if (ev.type === 'ERROR') {
              if (ev.object.code === 410) gone = true;
              ac.abort();
              return;
            }
            if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
            if (ev.type === 'BOOKMARK') return;
            const key = objectKey(ev.object);
            const old = this.store.get(key);
            if (ev.type === 'DELETED') {
              this.store.delete(key);
              this.opts.handlers.onDelete?.(old ?? ev.object);
            } else {
              this.store.set(key, ev.object);
              if (old) this.opts.handlers.onUpdate?.(old, ev.object);
              else this.opts.handlers.onAdd?.(ev.object);
            }
          },
          ac.signal,
        );
      } finally {
        if (watchdog) clearTimeout(watchdog);
        signal.removeEventListener('abort', onOuterAbort);
      }
      if (gone) throw new Gone();
      if (stale) {
        this.log().warn({ informer: this.opts.name, staleAfterMs: staleAfter }, 'Relisting after a silent watch');
        return; // relist
      }
    }
  }
}
