// The CLI's connection to the cluster, found like kubectl finds it: --kubeconfig, else the
// KUBECONFIG list (first file wins for duplicates and the current context), else ~/.kube/config;
// --context and -n override. Requests are plain JSON over node:https with the kubeconfig's
// credentials (token, client certificate or exec plugin, through client-node's KubeConfig).

import { existsSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type WebSocket from 'ws';
import type { ClusterFlags } from './args.js';
import { CliError, explainKubeError, type ApiAction } from './errors.js';

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
}

export interface Kube {
  /** The API server URL (https://host:port). */
  server: string;
  namespace: string;
  context: string;
  request<T = unknown>(method: string, path: string, input?: RequestInput): Promise<T>;
  /** Like request, but a failure becomes a CliError that explains it (naming verb and resource). */
  call<T = unknown>(action: ApiAction, method: string, path: string, input?: RequestInput): Promise<T>;
  /** Options for a WebSocket to the API server (TLS and credentials), fresh per connection. */
  webSocketOptions(): Promise<{ headers: Record<string, string>; options: WebSocket.ClientOptions }>;
}

export interface KubeConfigSource {
  flags: ClusterFlags;
  /** $KUBECONFIG as the environment has it. */
  kubeconfigEnv: string | undefined;
  homeDir: string;
}

/** Which kubeconfig files to read, in kubectl's order (pure). */
export function planKubeconfigFiles(source: KubeConfigSource): string[] {
  if (source.flags.kubeconfig) return [source.flags.kubeconfig];
  if (source.kubeconfigEnv) return source.kubeconfigEnv.split(delimiter).filter(Boolean);
  return [join(source.homeDir, '.kube', 'config')];
}

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const files = planKubeconfigFiles(source);
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) {
    throw new CliError(`no cluster configured: ${files.join(', ')} ${files.length > 1 ? 'do' : 'does'} not exist. Set KUBECONFIG or pass --kubeconfig (as for kubectl).`);
  }
  const kc = new KubeConfig();
  for (const file of present) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new CliError(`cannot read kubeconfig ${file}: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
    }
    // kubectl's merge: the first file that sets a value wins.
    for (const c of one.clusters ?? []) if (!kc.clusters?.some((x) => x.name === c.name)) kc.addCluster(c);
    for (const u of one.users ?? []) if (!kc.users?.some((x) => x.name === u.name)) kc.addUser(u);
    for (const c of one.contexts ?? []) if (!kc.contexts?.some((x) => x.name === c.name)) kc.addContext(c);
    if (!kc.currentContext && one.currentContext) kc.currentContext = one.currentContext;
  }
  if (source.flags.context) {
    if (!kc.getContextObject(source.flags.context)) {
      throw new CliError(`no context "${source.flags.context}" in ${present.join(', ')} (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(source.flags.context);
  }
  if (!kc.currentContext || !kc.getContextObject(kc.currentContext)) throw new CliError(`no current context in ${present.join(', ')}: pass --context`);
  if (!kc.getCurrentCluster()) throw new CliError(`context "${kc.currentContext}" names no cluster that exists in ${present.join(', ')}`);
  return kc;
}

function withQuery(path: string, query: RequestInput['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export function buildKube(kc: KubeConfig, namespaceFlag: string | undefined): Kube {
  const cluster = kc.getCurrentCluster()!;
  const server = new URL(cluster.server);
  const secure = server.protocol === 'https:';
  const namespace = namespaceFlag ?? kc.getContextObject(kc.currentContext)?.namespace ?? 'default';
  const basePath = server.pathname.replace(/\/$/, '');

  async function tlsAndAuth(): Promise<RequestOptions> {
    const opts: RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    delete opts.agent;
    return opts;
  }

  async function request<T>(method: string, path: string, input: RequestInput = {}): Promise<T> {
    const opts = await tlsAndAuth();
    const headers = { ...(opts.headers as Record<string, string>), accept: 'application/json' } as Record<string, string>;
    let payload: Buffer | undefined;
    if (input.body !== undefined) {
      payload = Buffer.from(JSON.stringify(input.body));
      headers['content-type'] = input.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)({
        ...opts, method, headers, protocol: server.protocol, hostname: server.hostname, port: server.port || (secure ? 443 : 80),
        path: basePath + withQuery(path, input.query),
      }, resolve);
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(Object.assign(new Error(`${method} ${path} timed out`), { code: 'ETIMEDOUT' })));
      req.end(payload);
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) throw new KubeApiError(code, text, method, path);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  return {
    server: cluster.server,
    namespace,
    context: kc.currentContext,
    request,
    async call<T>(action: ApiAction, method: string, path: string, input?: RequestInput): Promise<T> {
      try {
        return await request<T>(method, path, input);
      } catch (err) {
        throw Object.assign(new CliError(explainKubeError(err, { ...action, server: cluster.server })), { cause: err });
      }
    },
    async webSocketOptions() {
      const opts = await tlsAndAuth();
      const headers = { ...(opts.headers as Record<string, string>) };
      const options: WebSocket.ClientOptions & { servername?: string; auth?: string } = {};
      if (opts.ca) options.ca = opts.ca;
      if (opts.cert) options.cert = opts.cert;
      if (opts.key) options.key = opts.key;
      if (opts.rejectUnauthorized !== undefined) options.rejectUnauthorized = opts.rejectUnauthorized;
      if (opts.servername) options.servername = opts.servername;
      if (opts.auth) options.auth = opts.auth;
      return { headers, options };
    },
  };
}

/** Path of a resource (collection when name is absent). */
export function resourcePath(group: string, version: string, plural: string, namespace?: string, name?: string, sub?: string): string {
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${plural}${name ? `/${encodeURIComponent(name)}` : ''}${sub ? `/${sub}` : ''}`;
}

export function statusOf(err: unknown): number | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause ?? err;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
