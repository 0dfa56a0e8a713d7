// Outbound streams end to end with real sockets: a real sidecar, the developer end's dialer, the
// CLI's local SOCKS5 / HTTP proxies and --forward listeners, and real clients (curl, node:net).
// The sidecar's resolver is a fixed table here (no DNS traffic leaves the machine); the pod's real
// resolver is exercised by the integration suite.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { TunnelRefusedError } from '../core/tunnel/developer.js';
import { buildOutboundDialer, connectOutbound, type OutboundDialer } from '../core/tunnel/outbound.js';
import { OUTBOUND_PATH } from '../core/tunnel/outbound-protocol.js';
import { buildForwardListener } from '../cli/forward.js';
import { buildHttpProxy } from '../cli/http-proxy.js';
import { buildSocksProxy } from '../cli/socks-proxy.js';
import { hashStream, patternSha256, patternStream } from '../test/fixtures/bytes.js';
import { makeRoute, startHarness, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';
import type { LookupFn } from './outbound.js';

const NAMES: Record<string, string> = { 'inventory.shop': '127.0.0.1', inventory: '127.0.0.1' };
const lookup: LookupFn = (host, cb) => {
  const a = NAMES[host];
  if (a) setImmediate(() => cb(null, a, 4));
  else setImmediate(() => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), '', 0));
};

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '30', ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

describe('outbound streams through the sidecar', () => {
  let h: Harness;
  let dialer: OutboundDialer;
  let outboundUrl: string;
  const servers: net.Server[] = [];
  let socksPort: number;
  let httpPort: number;
  let echoTcpPort: number;
  let bulkPort: number;

  const serve = async (server: net.Server): Promise<number> => { servers.push(server); return listen(server); };

  beforeAll(async () => {
    h = await startHarness({ outboundLookup: lookup });
    h.setRoutes([makeRoute('shop/alice', 'alice-token')]);
    outboundUrl = h.tunnelUrl.replace(/\/tunnel$/, OUTBOUND_PATH);
    dialer = buildOutboundDialer({ connect: () => connectOutbound({ url: outboundUrl, token: 'alice-token' }) });
    socksPort = await serve(buildSocksProxy({ dialer }));
    httpPort = await serve(buildHttpProxy({ dialer }) as unknown as net.Server);
    echoTcpPort = await serve(net.createServer((s) => { s.on('error', () => s.destroy()); s.pipe(s); }));
    // Sends 100 MB of a known pattern to whoever connects, with backpressure; counts what it wrote.
    bulkPort = await serve(net.createServer((s) => {
      s.on('error', () => s.destroy());
      patternStream(100 * 1024 * 1024).pipe(s);
    }));
  });
  afterAll(async () => {
    await dialer.close();
    for (const s of servers) s.close();
    await h.close();
  });

  it('reaches an HTTP service by its cluster name through SOCKS5 (socks5h) with curl', async () => {
    const r = await curl(['--socks5-hostname', `127.0.0.1:${socksPort}`, `http://inventory.shop:${h.app.port}/items?x=1`]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ pod: 'app', path: '/items?x=1' });
  });

  it('reaches it through the HTTP proxy, plain forward and CONNECT, with curl', async () => {
    const plain = await curl(['-x', `http://127.0.0.1:${httpPort}`, `http://inventory.shop:${h.app.port}/plain`]);
    expect(JSON.parse(plain.stdout)).toMatchObject({ pod: 'app', path: '/plain' });
    expect(JSON.parse(plain.stdout).headers.host).toBe(`inventory.shop:${h.app.port}`);
    const tunnelled = await curl(['-p', '-x', `http://127.0.0.1:${httpPort}`, `http://inventory:${h.app.port}/connect`]);
    expect(JSON.parse(tunnelled.stdout)).toMatchObject({ pod: 'app', path: '/connect' });
  });

  it('answers an unknown name with SOCKS "host unreachable" and HTTP 502 naming the DNS failure', async () => {
    const socks = await curl(['--socks5-hostname', `127.0.0.1:${socksPort}`, 'http://nosuch.shop:80/']);
    expect(socks.code).not.toBe(0);
    expect(socks.stderr).toMatch(/unreachable|\(4\)/i);
    const http = await curl(['-i', '-x', `http://127.0.0.1:${httpPort}`, 'http://nosuch.shop:80/']);
    expect(http.stdout).toMatch(/^HTTP\/1\.1 502/);
    expect(http.stdout).toMatch(/x-detour-reason: cannot resolve nosuch\.shop in the pod: ENOTFOUND/i);
  });

  it('answers a closed port with SOCKS "connection refused" and HTTP 502 ECONNREFUSED', async () => {
    const port = await freePort();
    const socks = await curl(['--socks5-hostname', `127.0.0.1:${socksPort}`, `http://inventory:${port}/`]);
    expect(socks.code).not.toBe(0);
    expect(socks.stderr).toMatch(/refused|\(5\)/i);
    const http = await curl(['-i', '-p', '-x', `http://127.0.0.1:${httpPort}`, `http://inventory:${port}/`]);
    expect(http.stdout).toMatch(/^HTTP\/1\.1 502/);
    expect(http.stdout).toMatch(/ECONNREFUSED/);
  });

  it('carries 100 MB byte for byte through a --forward', async () => {
    const fwd = await serve(buildForwardListener({ dialer, target: { host: 'inventory', port: bulkPort } }));
    const sock = net.connect(fwd, '127.0.0.1');
    const got = await hashStream(sock);
    expect(got.bytes).toBe(100 * 1024 * 1024);
    expect(got.sha256).toBe(patternSha256(100 * 1024 * 1024));
  });

  it('serves 200 concurrent connections, each getting its own bytes back', async () => {
    const fwd = await serve(buildForwardListener({ dialer, target: { host: 'inventory', port: echoTcpPort } }));
    const one = (i: number): Promise<boolean> => new Promise((resolve, reject) => {
      const payload = createHash('sha256').update(String(i)).digest().toString('hex').repeat(32); // 2 KiB
      const s = net.connect(fwd, '127.0.0.1');
      let got = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => { got += d; if (got.length >= payload.length) s.end(); });
      s.on('close', () => resolve(got === payload));
      s.on('error', reject);
      s.write(payload);
    });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => one(i)));
    expect(results.filter(Boolean)).toHaveLength(200);
  });

  it('does not buffer without bound for a client that stops reading', async () => {
    let written = 0;
    const producer = net.createServer((s) => {
      s.on('error', () => s.destroy());
      const src = patternStream(100 * 1024 * 1024);
      src.on('data', (c: Buffer) => { written += c.length; });
      src.pipe(s);
    });
    const port = await serve(producer);
    const fwd = await serve(buildForwardListener({ dialer, target: { host: 'inventory', port } }));
    const sock = net.connect(fwd, '127.0.0.1');
    sock.pause();
    // Wait until the producer is stalled by backpressure (no progress across several polls).
    let last = -1;
    let stable = 0;
    while (stable < 5) {
      await new Promise((r) => setTimeout(r, 100));
      if (written === last && written > 0) stable++; else { stable = 0; last = written; }
    }
    expect(written).toBeLessThan(32 * 1024 * 1024);
    sock.destroy();
  });

  it('resets local connections when the tunnel dies mid-transfer, refuses new ones while it cannot come back, recovers after', async () => {
    const fwd = await serve(buildForwardListener({ dialer, target: { host: 'inventory', port: bulkPort } }));
    const sock = net.connect(fwd, '127.0.0.1');
    let received = 0;
    const ended = new Promise<string>((resolve) => {
      sock.on('data', (c: Buffer) => {
        received += c.length;
        if (received > 5 * 1024 * 1024 && dialer.current) dialer.current.terminate();
      });
      sock.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      sock.on('end', () => resolve('clean end'));
    });
    expect(await ended).toBe('ECONNRESET');
    expect(received).toBeLessThan(100 * 1024 * 1024);

    // The token no longer opens a tunnel: new connections get a clear refusal, at once.
    h.setRoutes([]);
    await waitFor(() => h.sidecar.registry.all().length === 0);
    const refused = await curl(['-i', '-x', `http://127.0.0.1:${httpPort}`, `http://inventory:${h.app.port}/`]);
    expect(refused.stdout).toMatch(/^HTTP\/1\.1 502/);
    expect(refused.stdout).toMatch(/x-detour-reason: no tunnel to the sidecar: tunnel refused with 403/i);
    const socks = await curl(['--socks5-hostname', `127.0.0.1:${socksPort}`, `http://inventory:${h.app.port}/`]);
    expect(socks.code).not.toBe(0);

    h.setRoutes([makeRoute('shop/alice', 'alice-token')]);
    const back = await curl(['--socks5-hostname', `127.0.0.1:${socksPort}`, `http://inventory:${h.app.port}/again`]);
    expect(JSON.parse(back.stdout)).toMatchObject({ path: '/again' });
  });

  it('refuses an outbound tunnel whose token matches no intercept', async () => {
    await expect(connectOutbound({ url: outboundUrl, token: 'mallory' })).rejects.toBeInstanceOf(TunnelRefusedError);
    await expect(connectOutbound({ url: outboundUrl, token: 'mallory' })).rejects.toMatchObject({ status: 403 });
  });

  it('counts connections by result and bytes by direction in its metrics, without destinations or payloads', async () => {
    const text = await (await fetch(`${h.adminUrl}/metrics`)).text();
    expect(text).toMatch(/detour_sidecar_outbound_connections_total\{result="ok"\} [1-9]/);
    expect(text).toMatch(/detour_sidecar_outbound_connections_total\{result="dns"\} [1-9]/);
    expect(text).toMatch(/detour_sidecar_outbound_connections_total\{result="refused"\} [1-9]/);
    const down = /detour_sidecar_outbound_bytes_total\{direction="to_developer"\} (\d+)/.exec(text);
    expect(Number(down?.[1])).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    expect(text).not.toMatch(/inventory/);
  });
});
