// A running intercept session: one tunnel per ready replica of the workload (followed as replicas
// come and go), each reconnecting with backoff, every served request printed. Polls the cluster
// (Intercept, pods) once a second; ends when stopped, or when the Intercept is deleted or expires.

import { connect as netConnect } from 'node:net';
import type { Intercept } from '../core/api/intercept.js';
import { fetchIntercept, fetchToken, fetchWorkload, listPods } from './cluster.js';
import { CliError, explainLocalFailure } from './errors.js';
import { formatDurationMs, formatRequestLine } from './format.js';
import type { Kube } from './kube.js';
import { connectTunnel, type TunnelRequestEvent } from '../core/tunnel/developer.js';
import { TUNNEL_DRAIN_MS } from '../core/tunnel/protocol.js';
import { sleep } from '../core/sleep.js';
import { formatWorkload } from '../core/workload-ref.js';
import { buildLabelSelector, buildTunnelUrl, diffReplicas, planReplicas, viaIsPerReplica, type Replica } from './replicas.js';
import { keepTunnel } from './replica-tunnel.js';

export interface Screen {
  /** Progress and state changes. */
  info(line: string): void;
  /** One served request. */
  request(line: string): void;
  warn(line: string): void;
}

export interface SessionOptions {
  kube: Kube;
  intercept: Intercept;
  target: string;
  via?: string;
  screen: Screen;
  now?: () => Date;
  random?: () => number;
  pollIntervalMs?: number;
  /** On stop, how long requests in flight may take to finish (default TUNNEL_DRAIN_MS; 0: close at once). */
  drainMs?: number;
}

export interface Session {
  /** Resolves with why the session ended on its own (Intercept deleted or expired); never for stop(). */
  readonly ended: Promise<string>;
  stop(): Promise<void>;
}

interface ReplicaTunnel {
  replica: Replica;
  /** Requests in flight on its tunnel. */
  inFlight(): number;
  /** Drains the tunnel (no new requests; in-flight ones finish within drainMs), then closes it. */
  stop(): Promise<void>;
}

export async function startSession(o: SessionOptions): Promise<Session> {
  const { kube, screen } = o;
  const now = o.now ?? (() => new Date());
  const random = o.random ?? Math.random;
  const drainMs = o.drainMs ?? TUNNEL_DRAIN_MS;
  const ns = o.intercept.metadata.namespace;
  const name = o.intercept.metadata.name;
  const ref = o.intercept.spec.workload;
  const workload = await fetchWorkload(kube, ns, ref);
  const selector = buildLabelSelector(workload.spec?.selector);
  const id = formatWorkload(ref);

  let token = await fetchToken(kube, o.intercept);
  if (token === undefined) throw new CliError(`the token Secret of Intercept ${name} does not exist yet: is the Detour operator running?`);
  const refreshToken = async (): Promise<void> => {
    const i = await fetchIntercept(kube, ns, name).catch(() => undefined);
    if (!i) return;
    const t = await fetchToken(kube, i).catch(() => undefined);
    if (t && t !== token) { token = t; screen.info('Read the renewed tunnel token'); }
  };

  let endSession: (why: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => { endSession = resolve; });
  const tunnels = new Map<string, ReplicaTunnel>();
  const connected = new Set<string>();
  const explainedLocal = new Set<string>();

  const reportCount = (): void => {
    const total = tunnels.size;
    screen.info(`Serving ${connected.size}/${total} replica${total === 1 ? '' : 's'} → ${new URL(o.target).host}`);
  };

  const onRequest = (replica: string) => (e: TunnelRequestEvent): void => {
    const explanation = e.status === 502 ? explainLocalFailure(e.error, o.target) : undefined;
    screen.request(formatRequestLine(e, { at: now(), replica, ...(explanation ? { explanation } : {}) }));
    if (explanation && !explainedLocal.has(explanation)) {
      explainedLocal.add(explanation);
      screen.warn(`Requests get 502: ${explanation}`);
    }
  };

  function startReplica(replica: Replica | undefined): ReplicaTunnel {
    const label = replica?.pod ?? o.via!;
    const kept = keepTunnel({
      label, screen, random,
      connect: async (served) => {
        const url = buildTunnelUrl({ server: kube.server, namespace: ns, ...(replica ? { replica } : {}), ...(o.via ? { via: o.via } : {}) });
        const api = o.via ? undefined : await kube.webSocketOptions();
        return connectTunnel({
          url, token: token!, target: o.target,
          tokenHeader: o.via ? 'authorization' : 'x-detour-token',
          ...(api ? { headers: api.headers, webSocketOptions: { ...api.options, handshakeTimeout: 15_000 } } : {}),
          onRequest: served,
        });
      },
      onRequest: onRequest(label),
      refreshToken: () => { void refreshToken(); },
      onConnected: () => { connected.add(label); reportCount(); },
      onDisconnected: () => { connected.delete(label); },
      restartHint: `kubectl rollout restart ${ref.kind.toLowerCase()}/${ref.name} -n ${ns}`,
    });
    return {
      replica: replica ?? { pod: label, uid: label, ip: '', tunnelPort: 0 },
      inFlight: kept.inFlight,
      stop: async () => {
        await kept.stop(drainMs);
        connected.delete(label);
      },
    };
  }

  let lastNotReady = '';
  const sync = async (): Promise<void> => {
    const i = await fetchIntercept(kube, ns, name);
    if (!i || i.metadata.deletionTimestamp) { endSession(`Intercept ${name} was deleted`); return; }
    if (i.status?.phase === 'Expired') { endSession(`Intercept ${name} expired (ttl ${i.spec.ttl ?? ''})`); return; }
    if (o.via && !viaIsPerReplica(o.via)) {
      if (tunnels.size === 0) tunnels.set(o.via, startReplica(undefined));
      return;
    }
    const plan = planReplicas(await listPods(kube, ns, selector), id);
    const { open, close } = diffReplicas(new Set(tunnels.keys()), plan.ready);
    for (const uid of close) {
      const t = tunnels.get(uid)!;
      tunnels.delete(uid);
      screen.info(`Replica ${t.replica.pod} went away; closed its tunnel`);
      void t.stop().then(reportCount);
    }
    for (const r of open) {
      screen.info(`Connecting to replica ${r.pod} (${r.ip})`);
      tunnels.set(r.uid, startReplica(r));
    }
    const waiting = plan.notReady.map((n) => `${n.pod}: ${n.reason}`).join('; ');
    if (waiting !== lastNotReady) {
      if (waiting) screen.info(`Not ready yet: ${waiting}`);
      lastNotReady = waiting;
    }
    if (plan.ready.length === 0 && tunnels.size === 0 && lastNotReady === '') screen.info(`No ready replica of ${id}; waiting for one`);
  };

  const stopping = new AbortController();
  let failures = 0;
  const poll = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        await sync();
        failures = 0;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 10 === 0) screen.warn(`Cannot read the cluster: ${err instanceof Error ? err.message : String(err)}; tunnels stay up, retrying`);
      }
      await sleep(o.pollIntervalMs ?? 1000, stopping.signal);
    }
  };
  await sync();
  const polling = poll();

  await warnIfLocalDown(o.target, screen);

  return {
    ended,
    stop: async () => {
      // Polling first: a sync still in flight would otherwise open tunnels after they were stopped.
      stopping.abort();
      await polling;
      const inFlight = [...tunnels.values()].reduce((n, t) => n + t.inFlight(), 0);
      if (inFlight > 0 && drainMs > 0) screen.info(`Finishing ${inFlight} request${inFlight === 1 ? '' : 's'} in flight (up to ${formatDurationMs(drainMs)}); new ones reach the cluster`);
      await Promise.all([...tunnels.values()].map((t) => t.stop()));
      tunnels.clear();
    },
  };
}

/** Says at the start when nothing listens on the local port (requests would get 502). */
async function warnIfLocalDown(target: string, screen: Screen): Promise<void> {
  const url = new URL(target);
  const ok = await new Promise<boolean>((resolve) => {
    const s = netConnect({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
  if (!ok) screen.warn(`Nothing is listening on ${url.host} yet: matching requests get 502 until your service runs there`);
}
