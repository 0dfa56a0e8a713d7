// The CLI's connection to the cluster, found like kubectl finds it: --kubeconfig, else the
// KUBECONFIG list (first file wins for duplicates and the current context), else ~/.kube/config;
// --context and -n override. Requests go through core/kube/client.ts (plain JSON over node:https
// with the kubeconfig's credentials: token, client certificate or exec plugin).

import { existsSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type WebSocket from 'ws';
import type { ClusterFlags } from './args.js';
import { CliError, explainKubeError, type ApiAction } from './errors.js';
import { statusCodeOf } from '../core/errors.js';

import { buildKubeClient, type RequestInput } from '../core/kube/client.js';

export { resourcePath, type RequestInput } from '../core/kube/client.js';

export interface Kube {
  /** The API server URL (https://host:port). */
  server: string;
  namespace: string;
  context: string;
  /** The name of the current context's user entry in the kubeconfig (not necessarily the authenticated username). */
  user?: string;
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

export function buildKube(kc: KubeConfig, namespaceFlag: string | undefined): Kube {
  const cluster = kc.getCurrentCluster()!;
  const namespace = namespaceFlag ?? kc.getContextObject(kc.currentContext)?.namespace ?? 'default';

  async function tlsAndAuth(): Promise<RequestOptions> {
    const opts: RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    delete opts.agent;
    return opts;
  }

  const client = buildKubeClient(kc);
  const request = <T>(method: string, path: string, input?: RequestInput): Promise<T> => client.request<T>(method, path, input);

  return {
    server: cluster.server,
    namespace,
    context: kc.currentContext,
    ...(kc.getContextObject(kc.currentContext)?.user ? { user: kc.getContextObject(kc.currentContext)!.user } : {}),
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

/** The HTTP status of a failed request, also when `call` wrapped it in a CliError (its cause). */
export function statusOf(err: unknown): number | undefined {
  return statusCodeOf(err instanceof CliError ? err.cause : err);
}
