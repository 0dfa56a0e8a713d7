// Child processes of the benchmark: every server under test runs in its own process so its CPU and
// memory can be read from /proc and the load generator does not share its event loop.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(BENCH_DIR, '..');

export interface Child<T = Record<string, unknown>> {
  pid: number;
  proc: ChildProcess;
  /** What the child printed on its READY line. */
  info: T;
  /** Lines the child printed after READY (results of one-shot roles). */
  lines: string[];
  stop(): Promise<void>;
}

/** Spawns a process and waits for a line `READY <json>` on its stdout (or for `ready()` to resolve). */
export async function startChild<T = Record<string, unknown>>(
  command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; name: string; ready?: () => Promise<T> },
): Promise<Child<T>> {
  const proc = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
  let buf = '';
  let readyLine: ((v: T) => void) | undefined;
  proc.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.startsWith('READY ') && readyLine) { const r = readyLine; readyLine = undefined; r(JSON.parse(line.slice(6)) as T); }
      else if (line.startsWith('RESULT ')) lines.push(line.slice(7));
    }
  });
  const exited = once(proc, 'exit');
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const info = await Promise.race([
    opts.ready ? opts.ready() : new Promise<T>((resolve) => { readyLine = resolve; }),
    exited.then(([code]) => { throw new Error(`${opts.name} exited (${String(code)}) before it was ready: ${stderr.trim().slice(-1500)}`); }),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${opts.name} not ready after ${timeoutMs} ms: ${stderr.trim().slice(-1500)}`)), timeoutMs); }),
  ]).finally(() => clearTimeout(timer));
  return {
    pid: proc.pid!, proc, info, lines,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      // A profiled process needs its graceful exit to write the profile (the sidecar drains for up to 10 s).
      const t = setTimeout(() => proc.kill('SIGKILL'), process.env.BENCH_CPU_PROF ? 12_000 : 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * BENCH_CPU_PROF=<dir>: node arguments that make a process under test (sidecar, developer end) write
 * V8 CPU profiles (one per thread) into <dir>/<name>/ when it exits. Empty otherwise.
 */
export function profileArgs(name: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', join(dir, name)] : [];
}

/** A role of bench/roles.ts in its own Node process (TypeScript through tsx). */
export function startRole<T = Record<string, unknown>>(role: string, config: unknown, opts: { timeoutMs?: number; nodeArgs?: string[]; oneShot?: boolean } = {}): Promise<Child<T>> {
  return startChild<T>(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', join(BENCH_DIR, 'roles.ts'), role, JSON.stringify(config)], {
    name: role, timeoutMs: opts.timeoutMs, ready: opts.oneShot ? async () => ({}) as T : undefined,
  });
}

/** Waits for a child that prints RESULT lines and exits by itself; returns the parsed results. */
export async function runRole<T>(role: string, config: unknown, timeoutMs: number, nodeArgs: string[] = []): Promise<T[]> {
  const child = await startRole(role, config, { timeoutMs, nodeArgs, oneShot: true });
  const exited = child.proc.exitCode !== null ? Promise.resolve([child.proc.exitCode]) : once(child.proc, 'exit');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), timeoutMs);
  const [code] = await exited as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${role} exited with ${String(code)}`);
  return child.lines.map((l) => JSON.parse(l) as T);
}

/** A free TCP port on 127.0.0.1 (closed again at once; fine for loopback benchmarks). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls until a GET of `url` answers with `status` (default any 2xx). */
export async function waitForHttp(url: string, timeoutMs = 20_000, headers: Record<string, string> = {}, ok: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (ok(res.status)) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Re-exported for the bench sections that import it from here. */
export { sleep } from '../core/sleep.js';
