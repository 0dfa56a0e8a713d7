// A value stream with explicit subscriptions: what a long-lived part (the control hub) emits, and a
// controller of one leader term listens to while it runs (`channelSource`). No late-bound callback:
// the emitter exists first, listeners come and go.

export class Fanout<T> {
  private readonly listeners = new Set<(value: T) => void>();

  /** Delivers `value` to every current listener. Bound, so it can be handed on as a callback. */
  readonly emit = (value: T): void => {
    for (const l of this.listeners) l(value);
  };

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }
}
