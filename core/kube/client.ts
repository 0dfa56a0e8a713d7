// A small JSON client for the Kubernetes API over node:https, authenticated from a client-node
// KubeConfig; shared by the operator and the CLI. Objects travel as plain JSON (never through client-node's ObjectSerializer, which
// drops fields it does not know). Errors carry `code` and `body` so core/errors.ts classifies them.

import { request as httpsRequest, Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

export class KubeApiError extends Error {
  constructor(readonly code: number, readonly body: string, method: string, path: string) {
    super(`${method} ${path} failed with HTTP ${code}`);
    this.name = 'KubeApiError';
  }
}

export interface RequestInput {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface KubeClient {
  request<T = unknown>(method: string, path: string, input?: RequestInput): Promise<T>;
  /** Streams newline-delimited JSON (watch). Resolves when the server ends the stream. */
  stream(path: string, query: RequestInput['query'], onObject: (obj: unknown) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}

function withQuery(path: string, query: RequestInput['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export function buildKubeClient(kc: KubeConfig): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const secure = server.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 32 }) : new HttpAgent({ keepAlive: true, maxSockets: 32 });
  const streamAgent = secure ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });

  async function open(method: string, path: string, input: RequestInput, streaming: boolean): Promise<IncomingMessage> {
    const opts: RequestOptions = { method, headers: {} };
    await kc.applyToHTTPSOptions(opts);
    const headers = (opts.headers ?? {}) as Record<string, string>;
    headers.accept = 'application/json';
    let payload: Buffer | undefined;
    if (input.body !== undefined) {
      payload = Buffer.from(JSON.stringify(input.body));
      headers['content-type'] = input.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const basePath = server.pathname.replace(/\/$/, '');
    const full: RequestOptions = {
      ...opts,
      headers,
      protocol: server.protocol,
      hostname: server.hostname,
      port: server.port || (secure ? 443 : 80),
      path: basePath + withQuery(path, input.query),
      agent: streaming ? streamAgent : agent,
      signal: input.signal,
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(full, resolve);
      req.on('error', reject);
      if (!streaming) req.setTimeout(30_000, () => req.destroy(Object.assign(new Error(`${method} ${path} timed out`), { code: 'ETIMEDOUT' })));
      req.end(payload);
    });
  }

  async function readAll(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  return {
    async request<T>(method: string, path: string, input: RequestInput = {}): Promise<T> {
      const res = await open(method, path, input, false);
      const text = await readAll(res);
      const code = res.statusCode ?? 0;
      if (code < 200 || code >= 300) throw new KubeApiError(code, text, method, path);
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async stream(path, query, onObject, signal) {
      const res = await open('GET', path, { query, signal }, true);
      const code = res.statusCode ?? 0;
      if (code !== 200) {
        const text = await readAll(res).catch(() => '');
        throw new KubeApiError(code, text, 'GET', path);
      }
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => { res.destroy(); resolve(); };
        signal.addEventListener('abort', onAbort, { once: true });
        lines.on('line', (line) => {
          if (!line.trim()) return;
          try { onObject(JSON.parse(line)); } catch (err) { res.destroy(); reject(err); }
        });
        lines.on('close', () => { signal.removeEventListener('abort', onAbort); resolve(); });
        res.on('error', (err) => { signal.removeEventListener('abort', onAbort); if (signal.aborted) resolve(); else reject(err); });
      });
    },
    close() {
      agent.destroy();
      streamAgent.destroy();
    },
  };
}

/** Path of a resource (its collection when name is absent), e.g. /apis/apps/v1/namespaces/shop/deployments/checkout. */
export function resourcePath(group: string, version: string, plural: string, namespace?: string, name?: string, sub?: string): string {
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${plural}${name ? `/${encodeURIComponent(name)}` : ''}${sub ? `/${sub}` : ''}`;
}

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
