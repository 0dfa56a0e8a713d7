// Pure: argv (without node and the script) → the command to run, or a usage error.

import { parseArgs } from 'node:util';
import { parseDuration } from '../core/api/duration.js';
import type { BaggageRule, CookieRule, HeaderRule, InterceptMode, QueryRule } from '../core/routing/table.js';
import { TUNNEL_DRAIN_MS } from '../core/tunnel/protocol.js';
import type { WorkloadName } from '../core/workload-ref.js';
import { COMMANDS, type CommandName } from './help.js';
import { parseForwardSpec, type ForwardSpec } from './forward.js';
import { parseBaggageRule, parseCookieRule, parseHeaderRule, parseMode, parseQueryRule, parsePort, parseTarget, parseTtl, parseWorkloadRef, UsageError } from './spec.js';

export interface ClusterFlags {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
}

/** What an Intercept routes: shared by `intercept` and `policy check`. */
export interface InterceptRules {
  cluster: ClusterFlags;
  workload: WorkloadName;
  port: string | number;
  headers: HeaderRule[];
  /** Routing keys that travel by themselves (issue 17): baggage members, cookies, query parameters. */
  baggage: BaggageRule[];
  cookies: CookieRule[];
  query: QueryRule[];
  pathPrefix?: string;
  mode: InterceptMode;
  ttl?: string;
}

export interface InterceptCommand extends InterceptRules {
  kind: 'intercept';
  target: string;
  name?: string;
  owner?: string;
  keep: boolean;
  via?: string;
  timeoutMs: number;
  /** How long in-flight requests may take to finish when the session stops (`--drain-timeout`). */
  drainMs: number;
  /** After `--`: run this with the container's env, files and network; the intercept ends when it exits. */
  command?: string[];
  /** With `command`: see RunCommand. */
  local?: LocalNetworkFlags;
}

export interface LocalNetworkFlags {
  forwards: ForwardSpec[];
  socksPort?: number;
  httpProxyPort?: number;
  byName: boolean;
}

export interface RunCommand {
  kind: 'run';
  cluster: ClusterFlags;
  workload: WorkloadName;
  container?: string;
  command: string[];
  local: LocalNetworkFlags;
  owner?: string;
  ttl?: string;
  keep: boolean;
  timeoutMs: number;
}

export interface ConnectCommand { kind: 'connect'; cluster: ClusterFlags; name: string; target: string; via?: string; drainMs: number }
export interface ListCommand { kind: 'list'; cluster: ClusterFlags; output: 'table' | 'wide' | 'json' | 'yaml'; allNamespaces: boolean }
export interface StatusCommand { kind: 'status'; cluster: ClusterFlags; name: string }
export interface LeaveCommand { kind: 'leave'; cluster: ClusterFlags; name: string }
export interface EnvCommand { kind: 'env'; cluster: ClusterFlags; workload: WorkloadName; container?: string; format: 'dotenv' | 'json' | 'shell' }
/** `detour policy check WORKLOAD ...`: a server-side dry run of the Intercept detour intercept would create. */
export interface PolicyCheckCommand extends InterceptRules {
  kind: 'policy-check';
}
export interface HelpCommand { kind: 'help'; topic?: CommandName }
/** `detour version`: the CLI's version; with a cluster (unless --client) the operator's and the sidecars'. */
export interface VersionCommand { kind: 'version'; cluster: ClusterFlags; client: boolean }

export type Command = InterceptCommand | RunCommand | ConnectCommand | ListCommand | StatusCommand | LeaveCommand | EnvCommand | PolicyCheckCommand | HelpCommand | VersionCommand;

export type ParseResult = { ok: true; command: Command } | { ok: false; error: string; topic?: CommandName };

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

const CLUSTER_OPTIONS: Record<string, OptionSpec> = {
  namespace: { type: 'string', short: 'n' },
  context: { type: 'string' },
  kubeconfig: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const LOCAL_OPTIONS: Record<string, OptionSpec> = {
  forward: { type: 'string', multiple: true }, 'socks-port': { type: 'string' }, 'http-proxy-port': { type: 'string' }, 'no-by-name': { type: 'boolean' },
};

const OPTIONS: Record<CommandName, Record<string, OptionSpec>> = {
  intercept: {
    to: { type: 'string' }, header: { type: 'string', multiple: true }, 'path-prefix': { type: 'string' }, port: { type: 'string' },
    mode: { type: 'string' }, ttl: { type: 'string' }, name: { type: 'string' }, owner: { type: 'string' }, keep: { type: 'boolean' },
    via: { type: 'string' }, timeout: { type: 'string' }, 'drain-timeout': { type: 'string' }, ...LOCAL_OPTIONS,
    baggage: { type: 'string', multiple: true }, cookie: { type: 'string', multiple: true }, query: { type: 'string', multiple: true },
  },
  run: { container: { type: 'string', short: 'c' }, owner: { type: 'string' }, ttl: { type: 'string' }, keep: { type: 'boolean' }, timeout: { type: 'string' }, ...LOCAL_OPTIONS },
  connect: { to: { type: 'string' }, via: { type: 'string' }, 'drain-timeout': { type: 'string' } },
  list: { 'all-namespaces': { type: 'boolean', short: 'A' }, output: { type: 'string', short: 'o' } },
  status: {},
  leave: {},
  env: { container: { type: 'string', short: 'c' }, format: { type: 'string' } },
  version: { client: { type: 'boolean' } },
  policy: {
    header: { type: 'string', multiple: true }, 'path-prefix': { type: 'string' }, port: { type: 'string' }, mode: { type: 'string' }, ttl: { type: 'string' },
    baggage: { type: 'string', multiple: true }, cookie: { type: 'string', multiple: true }, query: { type: 'string', multiple: true },
  },
};

const DEFAULT_TIMEOUT_MS = 180_000;

export function parseCommandLine(argv: readonly string[]): ParseResult {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !isCommand(topic)) return { ok: false, error: `unknown command "${topic}"` };
    return { ok: true, command: topic ? { kind: 'help', topic } : { kind: 'help' } };
  }
  if (first === '--version') return { ok: true, command: { kind: 'version', cluster: {}, client: true } };
  if (!isCommand(first)) return { ok: false, error: `unknown command "${first}" (commands: ${COMMANDS.join(', ')})` };

  // Everything after the first `--` is the local command (`detour run W -- redis-cli ping`).
  const dashes = rest.indexOf('--');
  const local = dashes === -1 ? undefined : rest.slice(dashes + 1);
  const own = dashes === -1 ? rest : rest.slice(0, dashes);
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...own], options: { ...CLUSTER_OPTIONS, ...OPTIONS[first] }, allowPositionals: true, strict: true }) as {
      values: Record<string, string | boolean | string[] | undefined>; positionals: string[];
    });
  } catch (err) {
    return { ok: false, error: (err instanceof Error ? err.message : String(err)).split('. To specify')[0]!, topic: first };
  }
  if (values.help) return { ok: true, command: { kind: 'help', topic: first } };
  try {
    return { ok: true, command: build(first, values, positionals, local) };
  } catch (err) {
    if (err instanceof UsageError) return { ok: false, error: err.message, topic: first };
    throw err;
  }
}

function isCommand(word: string): word is CommandName {
  return (COMMANDS as readonly string[]).includes(word);
}

function build(command: CommandName, v: Record<string, string | boolean | string[] | undefined>, positionals: string[], local: string[] | undefined): Command {
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const cluster: ClusterFlags = {};
  if (str('namespace') !== undefined) cluster.namespace = str('namespace');
  if (str('context') !== undefined) cluster.context = str('context');
  if (str('kubeconfig') !== undefined) cluster.kubeconfig = str('kubeconfig');
  if (cluster.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(cluster.namespace)) throw new UsageError(`-n ${cluster.namespace}: not a namespace name`);

  const one = (what: string): string => {
    if (positionals.length === 0) throw new UsageError(`missing ${what}`);
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" (one ${what} only)`);
    return positionals[0]!;
  };
  const none = (): void => { if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`); };
  const target = (): string => {
    const to = str('to');
    if (to === undefined) throw new UsageError('missing --to: the local service requests go to, e.g. --to localhost:3000');
    return parseTarget(to);
  };
  const via = (): string | undefined => {
    const u = str('via');
    if (u === undefined) return undefined;
    if (!/^(ws|wss|http|https):\/\//.test(u)) throw new UsageError(`--via ${u}: expected a ws://, wss://, http:// or https:// URL`);
    return u;
  };
  const drainMs = (): number => {
    const d = str('drain-timeout');
    if (d === undefined) return TUNNEL_DRAIN_MS;
    if (d === '0') return 0;
    const ms = parseDuration(d);
    if (ms === undefined) throw new UsageError(`--drain-timeout ${d}: expected a duration such as 10s or 0s`);
    return ms;
  };

  const port = (flag: string): number | undefined => {
    const t = str(flag);
    if (t === undefined) return undefined;
    if (!/^\d{1,5}$/.test(t) || Number(t) > 65535) throw new UsageError(`--${flag} ${t}: a port number (0 picks a free one)`);
    return Number(t);
  };
  const localFlags = (): LocalNetworkFlags => {
    const forwards = ((v.forward as string[] | undefined) ?? []).map((f) => {
      const spec = parseForwardSpec(f);
      if (typeof spec === 'string') throw new UsageError(spec);
      return spec;
    });
    const flags: LocalNetworkFlags = { forwards, byName: v['no-by-name'] !== true };
    const s = port('socks-port');
    if (s !== undefined) flags.socksPort = s;
    const h = port('http-proxy-port');
    if (h !== undefined) flags.httpProxyPort = h;
    return flags;
  };
  /** The routing flags of `intercept` and `policy check`. */
  const rules = (workload: string): InterceptRules => {
    const pathPrefix = str('path-prefix');
    if (pathPrefix !== undefined && !pathPrefix.startsWith('/')) throw new UsageError(`--path-prefix ${pathPrefix}: must start with /`);
    if (pathPrefix !== undefined && /[?#]/.test(pathPrefix)) throw new UsageError(`--path-prefix ${pathPrefix}: a path only, without ? or #`);
    if (pathPrefix !== undefined && /(^|\/)\.\.?(\/|$)/.test(pathPrefix)) throw new UsageError(`--path-prefix ${pathPrefix}: no . or .. segments (write the path they resolve to)`);
    const r: InterceptRules = {
      cluster, workload: parseWorkloadRef(workload), port: parsePort(str('port') ?? 'http'), mode: parseMode(str('mode') ?? 'steal'),
      headers: ((v.header as string[] | undefined) ?? []).map(parseHeaderRule),
      baggage: ((v.baggage as string[] | undefined) ?? []).map(parseBaggageRule),
      cookies: ((v.cookie as string[] | undefined) ?? []).map(parseCookieRule),
      query: ((v.query as string[] | undefined) ?? []).map(parseQueryRule),
    };
    if (pathPrefix !== undefined) r.pathPrefix = pathPrefix;
    const ttl = str('ttl');
    if (ttl !== undefined) r.ttl = parseTtl(ttl);
    return r;
  };
  if (local !== undefined && command !== 'intercept' && command !== 'run') throw new UsageError(`"detour ${command}" takes no command after --`);
  if (local !== undefined && local.length === 0) throw new UsageError('nothing after --: give the command to run, e.g. -- redis-cli -h redis ping');
  if (local === undefined && ((v.forward as string[] | undefined)?.length || str('socks-port') || str('http-proxy-port') || v['no-by-name']) && command === 'intercept') {
    throw new UsageError('--forward, --socks-port, --http-proxy-port and --no-by-name apply to the command after --');
  }

  switch (command) {
    case 'run': {
      if (local === undefined) throw new UsageError('missing -- COMMAND: detour run WORKLOAD -- COMMAND [ARGS]');
      const timeout = str('timeout');
      const timeoutMs = timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(timeout);
      if (timeoutMs === undefined) throw new UsageError(`--timeout ${timeout}: expected a duration such as 90s or 5m`);
      const c: RunCommand = { kind: 'run', cluster, workload: parseWorkloadRef(one('WORKLOAD')), command: local, local: localFlags(), keep: v.keep === true, timeoutMs };
      if (str('container') !== undefined) c.container = str('container');
      if (str('owner') !== undefined) c.owner = str('owner');
      const ttl = str('ttl');
      if (ttl !== undefined) c.ttl = parseTtl(ttl);
      return c;
    }
    case 'intercept': {
      const timeout = str('timeout');
      const timeoutMs = timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(timeout);
      if (timeoutMs === undefined) throw new UsageError(`--timeout ${timeout}: expected a duration such as 90s or 5m`);
      const name = str('name');
      if (name !== undefined && (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63)) throw new UsageError(`--name ${name}: a lower-case DNS label of at most 63 characters`);
      const c: InterceptCommand = { kind: 'intercept', ...rules(one('WORKLOAD')), target: target(), keep: v.keep === true, timeoutMs, drainMs: drainMs() };
      if (name !== undefined) c.name = name;
      if (str('owner') !== undefined) c.owner = str('owner');
      const u = via();
      if (u !== undefined) c.via = u;
      if (local !== undefined) { c.command = local; c.local = localFlags(); }
      return c;
    }
    case 'connect': {
      const c: ConnectCommand = { kind: 'connect', cluster, name: one('NAME'), target: target(), drainMs: drainMs() };
      const u = via();
      if (u !== undefined) c.via = u;
      return c;
    }
    case 'list': {
      none();
      const output = str('output') ?? 'table';
      if (output !== 'table' && output !== 'wide' && output !== 'json' && output !== 'yaml') throw new UsageError(`-o ${output}: use table, wide, json or yaml`);
      return { kind: 'list', cluster, output, allNamespaces: v['all-namespaces'] === true };
    }
    case 'status':
      return { kind: 'status', cluster, name: one('NAME') };
    case 'leave':
      return { kind: 'leave', cluster, name: one('NAME') };
    case 'version':
      none();
      return { kind: 'version', cluster, client: v.client === true };
    case 'policy': {
      if (positionals[0] !== 'check') throw new UsageError(`expected "detour policy check WORKLOAD"${positionals[0] ? `, not "${positionals[0]}"` : ''}`);
      if (positionals.length !== 2) throw new UsageError(positionals.length < 2 ? 'missing WORKLOAD' : `unexpected argument "${positionals[2]}" (one WORKLOAD only)`);
      return { kind: 'policy-check', ...rules(positionals[1]!) };
    }
    case 'env': {
      const format = str('format') ?? 'dotenv';
      if (format !== 'dotenv' && format !== 'json' && format !== 'shell') throw new UsageError(`--format ${format}: use dotenv, json or shell`);
      const c: EnvCommand = { kind: 'env', cluster, workload: parseWorkloadRef(one('WORKLOAD')), format };
      if (str('container') !== undefined) c.container = str('container');
      return c;
    }
  }
}
