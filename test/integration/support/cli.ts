// Runs the built detour CLI as a real child process (`node dist/cli/main.js ...`), the way a
// developer runs it, and watches what it prints.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI_MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export function assertCliBuilt(): void {
  if (!existsSync(CLI_MAIN)) throw new Error('the CLI suites run the built CLI: run `npm run build` first (npm test does)');
}

export class CliProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcess) {
    const collect = (d: Buffer) => { this.output += d.toString(); for (const w of this.waiters.splice(0)) w(); };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => { for (const w of this.waiters.splice(0)) w(); resolve({ code, signal }); }));
  }

  /** Waits until the output matches; fails with the whole output when it does not in time or the CLI exits. */
  async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => { exited = true; });
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (exited) throw new Error(`detour exited before printing ${pattern}; output:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`detour did not print ${pattern} in time; output:\n${this.output}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 500); });
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Starts `node dist/cli/main.js ARGS` with the given KUBECONFIG. */
export function startCli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): CliProcess {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  return new CliProcess(child);
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; output: string }> {
  const p = startCli(args, env);
  const { code } = await p.exited;
  return { code, output: p.output };
}

/** A developer's local service: answers `<name>: <method> <path>` and remembers what it got. */
export interface LocalServer {
  port: number;
  received: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export async function startLocalServer(name: string, port = 0): Promise<LocalServer> {
  const received: LocalServer['received'] = [];
  const server: Server = http.createServer((req, res) => {
    received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    req.resume();
    res.end(`${name}: ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
