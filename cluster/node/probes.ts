// Probes as the kubelet runs them: from the node's network namespace to the pod IP, with the
// kubelet's User-Agent (`kube-probe/<major>.<minor>`), so the sidecar can recognise them.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export const PROBE_USER_AGENT = 'kube-probe/1.34';

/** A port given by name resolves against the container's declared ports. */
export function resolveProbePort(port: number | string | undefined, container: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

export type ProbeExec = (command: string[], timeoutMs: number) => Promise<boolean>;

/** One probe attempt: true on success. `connectHost` is the pod IP. */
export async function runProbe(probe: V1Probe, container: V1Container, connectHost: string, exec: ProbeExec): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec?.command) return exec(probe.exec.command, timeoutMs);
  if (probe.httpGet) {
    const port = resolveProbePort(probe.httpGet.port, container);
    if (port === undefined) return false;
    const headers: Record<string, string> = { 'user-agent': PROBE_USER_AGENT, accept: '*/*' };
    for (const h of probe.httpGet.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    // scheme HTTPS: like the kubelet, no certificate verification.
    const https = probe.httpGet.scheme === 'HTTPS';
    const request = https ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = request({ host: probe.httpGet!.host ?? connectHost, port, path: probe.httpGet!.path ?? '/', method: 'GET', headers, timeout: timeoutMs, ...(https ? { rejectUnauthorized: false } : {}) }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  const port = probe.tcpSocket ? resolveProbePort(probe.tcpSocket.port, container) : probe.grpc?.port;
  if (port === undefined) return false;
  return new Promise((resolve) => {
    const socket = connect({ host: probe.tcpSocket?.host ?? connectHost, port, timeout: timeoutMs });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs a probe periodically and reports transitions after successThreshold successes or
 * failureThreshold failures, as the kubelet does. Returns a stop function.
 */
export function startProber(
  probe: V1Probe,
  attempt: () => Promise<boolean>,
  onResult: (ok: boolean) => void,
  initial: boolean,
): () => void {
  let state = initial;
  let successes = 0;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const period = Math.max(1, probe.periodSeconds ?? 10) * 1000;
  const tick = async () => {
    if (stopped) return;
    const ok = await attempt();
    if (stopped) return;
    if (ok) { successes++; failures = 0; } else { failures++; successes = 0; }
    if (!state && ok && successes >= (probe.successThreshold ?? 1)) { state = true; onResult(true); }
    if (state && !ok && failures >= (probe.failureThreshold ?? 3)) { state = false; onResult(false); }
    timer = setTimeout(tick, period);
  };
  timer = setTimeout(tick, (probe.initialDelaySeconds ?? 0) * 1000);
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}
