// Read-your-writes over an informer cache. After the reconciler writes an object it remembers
// what the API server returned and which resourceVersions that write replaced. Until the watch
// delivers the write, the cache still shows a replaced version; reconciling from it would write the
// same status again from a stale resourceVersion (a 409, and a storm of them at scale). `resolve`
// answers with the object as last written instead. Versions are compared for equality only (they
// are opaque): a cached version that is neither replaced nor ours means someone else wrote after
// us, and the cache wins. Pure data structure, no I/O.

export interface Versioned {
  metadata: { uid?: string; resourceVersion?: string };
}

export class OwnWrites<T extends Versioned> {
  private readonly entries = new Map<string, { replaced: Set<string>; written: T }>();

  /** The object to reconcile from: our last write while the cache shows a version it replaced, else the cached one. */
  resolve(key: string, cached: T): T {
    const e = this.entries.get(key);
    if (!e) return cached;
    const rv = cached.metadata.resourceVersion;
    if (cached.metadata.uid === e.written.metadata.uid && rv !== undefined && e.replaced.has(rv)) return e.written;
    this.entries.delete(key); // caught up with our write, or someone else wrote since
    return cached;
  }

  /** Records a successful write of `from` that the API server answered with `written`. */
  record(key: string, from: T, written: T): void {
    const fromRv = from.metadata.resourceVersion;
    const rv = written.metadata.resourceVersion;
    if (fromRv === undefined || rv === undefined || fromRv === rv) return;
    const e = this.entries.get(key);
    const replaced = e && e.written.metadata.uid === written.metadata.uid ? e.replaced : new Set<string>();
    replaced.add(fromRv);
    replaced.delete(rv);
    this.entries.set(key, { replaced, written });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  size(): number {
    return this.entries.size;
  }
}
