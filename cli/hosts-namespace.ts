// The by-name path of `detour run` on Linux: the command runs in a private mount namespace whose
// /etc/hosts maps the namespace's Services (short and long names) to loopback addresses
// 127.77.x.y, and the CLI listens on each such address for each Service port and opens the same
// Service in the cluster. Unmodified clients (redis-cli, psql) then reach `redis:6379` by name.
//
// As root: `unshare --mount --propagation private`; otherwise an unprivileged user namespace as
// well (`unshare --user --map-root-user --mount`, the command then runs as uid 0 of that namespace,
// which is the laptop user outside). Where neither works (not Linux, user namespaces disabled) the
// caller says so and the command gets only the proxies.

export interface ServiceJson {
  metadata: { name: string; namespace: string };
  spec?: { type?: string; clusterIP?: string; ports?: Array<{ port: number; protocol?: string; name?: string }> };
}

export interface HostsEntry {
  address: string;
  names: string[];
  /** Where the sidecar dials (`name.namespace`, resolved by the pod's search path). */
  service: string;
  ports: number[];
}

/** Loopback addresses 127.77.0.1, 127.77.0.2, … (127.0.0.1 and its neighbours stay untouched). */
export function loopbackAddress(index: number): string {
  const n = index + 1;
  return `127.77.${(n >> 8) & 0xff}.${n & 0xff}`;
}

/**
 * One loopback address per Service with TCP ports; names: `name` (in the command's namespace only),
 * `name.ns`, `name.ns.svc`, `name.ns.svc.<clusterDomain>`. At most 65 000 Services.
 */
export function planHostsEntries(services: readonly ServiceJson[], namespace: string, clusterDomain = 'cluster.local'): HostsEntry[] {
  const entries: HostsEntry[] = [];
  const sorted = [...services].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  for (const s of sorted) {
    const ports = [...new Set((s.spec?.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.port))];
    if (ports.length === 0 || entries.length >= 65_000) continue;
    const { name, namespace: ns } = s.metadata;
    const names = [`${name}.${ns}`, `${name}.${ns}.svc`, `${name}.${ns}.svc.${clusterDomain}`];
    if (ns === namespace) names.unshift(name);
    entries.push({ address: loopbackAddress(entries.length), names, service: `${name}.${ns}`, ports });
  }
  return entries;
}

/** The laptop's /etc/hosts with the cluster's names appended (later lines do not override earlier ones, so they go first). */
export function buildHostsFile(original: string, entries: readonly HostsEntry[]): string {
  const lines = ['# Added by detour run: cluster Services on loopback listeners of the detour CLI'];
  for (const e of entries) lines.push(`${e.address}\t${e.names.join(' ')}`);
  return `${lines.join('\n')}\n\n${original}${original.endsWith('\n') ? '' : '\n'}`;
}

export type NamespacePlan =
  | { ok: true; file: string; args: string[]; how: 'root' | 'user namespace' }
  | { ok: false; reason: string };

/**
 * The command line that runs `command` with `hostsFile` bind-mounted on /etc/hosts in a private
 * mount namespace. `probe` tells whether a user namespace can be made (checked by the caller by
 * running it once).
 */
export function planNamespaceCommand(o: { platform: string; isRoot: boolean; userNamespaces: boolean; hostsFile: string; command: readonly string[] }): NamespacePlan {
  if (o.platform !== 'linux') return { ok: false, reason: `by-name access needs Linux mount namespaces (this is ${o.platform})` };
  if (!o.isRoot && !o.userNamespaces) return { ok: false, reason: 'unprivileged user namespaces are disabled here (unshare --user failed) and detour does not run as root' };
  const inner = ['sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', o.hostsFile, ...o.command];
  const flags = o.isRoot ? ['--mount', '--propagation', 'private'] : ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
  return { ok: true, file: 'unshare', args: [...flags, '--', ...inner], how: o.isRoot ? 'root' : 'user namespace' };
}
