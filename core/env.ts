// The one way a deployable reads its settings: each main.ts passes process.env to a pure
// `read*Settings(env)` built on this reader. Every bad value is collected, and `finish()` throws one
// error that lists them all (a pod's log then says everything that is wrong at once).

export type Env = Readonly<Record<string, string | undefined>>;

export class EnvError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid settings: ${problems.join('; ')}`);
    this.name = 'EnvError';
  }
}

export interface EnvReader {
  /** The value, or `fallback` when unset or empty. */
  string(name: string, fallback: string): string;
  /** The value, or undefined when unset or empty. */
  optional(name: string): string | undefined;
  /** An integer in [min, max] (defaults 0 and MAX_SAFE_INTEGER). */
  integer(name: string, fallback: number, range?: { min?: number; max?: number }): number;
  /** A TCP port number, 0…65535 (0: any free port). */
  port(name: string, fallback: number): number;
  /** `true` or `false`. */
  boolean(name: string, fallback: boolean): boolean;
  /** One of `values`. */
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T;
  /** A comma-separated list, trimmed, empty items dropped; undefined when unset or empty. */
  list(name: string): string[] | undefined;
  /** Parsed JSON; undefined when unset or empty (a parse failure is a problem, not a throw). */
  json(name: string): unknown;
  /** Records a problem found by the caller's own check. */
  problem(message: string): void;
  readonly problems: readonly string[];
  /** Throws an EnvError naming every problem, if there was one. */
  finish(): void;
}

export function readEnv(env: Env): EnvReader {
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const reader: EnvReader = {
    string: (name, fallback) => raw(name) ?? fallback,
    optional: (name) => raw(name),
    integer(name, fallback, range = {}) {
      const v = raw(name);
      if (v === undefined) return fallback;
      const n = Number(v);
      const min = range.min ?? 0;
      const max = range.max ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
        return fallback;
      }
      return n;
    },
    port(name, fallback) {
      const v = raw(name);
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        problems.push(`${name} must be a port number, got ${JSON.stringify(v)}`);
        return fallback;
      }
      return n;
    },
    boolean(name, fallback) {
      const v = raw(name);
      if (v === undefined) return fallback;
      if (v === 'true') return true;
      if (v === 'false') return false;
      problems.push(`${name} must be true or false, got ${JSON.stringify(v)}`);
      return fallback;
    },
    oneOf(name, values, fallback) {
      const v = raw(name);
      if (v === undefined) return fallback;
      if ((values as readonly string[]).includes(v)) return v as typeof fallback;
      problems.push(`${name} must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
      return fallback;
    },
    list(name) {
      const v = raw(name);
      if (v === undefined || v.trim() === '') return undefined;
      return v.split(',').map((s) => s.trim()).filter(Boolean);
    },
    json(name) {
      const v = raw(name);
      if (v === undefined) return undefined;
      try {
        return JSON.parse(v) as unknown;
      } catch {
        problems.push(`${name} must be JSON`);
        return undefined;
      }
    },
    problem: (message) => { problems.push(message); },
    get problems() { return problems; },
    finish() { if (problems.length > 0) throw new EnvError([...problems]); },
  };
  return reader;
}
