// A small authoritative DNS server for the test node's cluster domain: answers A queries for
// Service names (`svc.ns.svc.cluster.local`, reached through each pod's resolv.conf search list)
// and never forwards anything anywhere. UDP only, which is what resolvers use for such answers.
import { createSocket, type Socket } from 'node:dgram';

export const CLUSTER_DOMAIN = 'cluster.local';

export interface DnsQuestion {
  id: number;
  flags: number;
  name: string;
  type: number;
  qclass: number;
  /** Bytes of the question section, echoed in the answer. */
  questionBytes: Buffer;
}

export const TYPE_A = 1;
export const TYPE_AAAA = 28;

/** Parses a query with one question; undefined for anything malformed. */
export function parseDnsQuery(msg: Buffer): DnsQuestion | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  if (msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) { off++; break; }
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1').toLowerCase());
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { id: msg.readUInt16BE(0), flags, name: labels.join('.'), type: msg.readUInt16BE(off), qclass: msg.readUInt16BE(off + 2), questionBytes: msg.subarray(12, off + 4) };
}

/** Builds the answer: A records for `addresses`, NOERROR without records, or NXDOMAIN when `addresses` is undefined. */
export function buildDnsAnswer(q: DnsQuestion, addresses: string[] | undefined, ttl = 5): Buffer {
  const answers = q.type === TYPE_A && addresses ? addresses : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  const rd = q.flags & 0x0100;
  const rcode = addresses === undefined ? 3 : 0;
  header.writeUInt16BE(0x8000 | 0x0400 | rd | rcode, 2); // QR, AA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((ip) => {
    const r = Buffer.alloc(16);
    r.writeUInt16BE(0xc00c, 0); // name: pointer to the question
    r.writeUInt16BE(TYPE_A, 2);
    r.writeUInt16BE(1, 4);
    r.writeUInt32BE(ttl, 6);
    r.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => r.writeUInt8(Number(o), 12 + i));
    return r;
  });
  return Buffer.concat([header, q.questionBytes, ...records]);
}

export interface ServiceRecord {
  namespace: string;
  name: string;
  /** ClusterIP, or for a headless Service the ready endpoint addresses. */
  addresses: string[];
}

/**
 * Resolves a fully qualified name against the Services: `name.ns.svc.cluster.local`. Returns
 * undefined (NXDOMAIN) for anything else; an empty list (NODATA) for a headless Service without
 * ready endpoints.
 */
export function resolveServiceName(fqdn: string, services: ServiceRecord[]): string[] | undefined {
  const suffix = `.svc.${CLUSTER_DOMAIN}`;
  const name = fqdn.replace(/\.$/, '');
  if (!name.endsWith(suffix)) return undefined;
  const parts = name.slice(0, -suffix.length).split('.');
  if (parts.length !== 2) return undefined;
  const svc = services.find((s) => s.name === parts[0] && s.namespace === parts[1]);
  return svc ? svc.addresses : undefined;
}

export interface DnsServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startDnsServer(options: { host: string; port?: number; lookup: (name: string) => string[] | undefined }): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const q = parseDnsQuery(msg);
    if (!q) return;
    socket.send(buildDnsAnswer(q, options.lookup(q.name)), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 53, options.host, () => resolve());
  });
  const addr = socket.address();
  return { address: addr.address, port: addr.port, close: () => new Promise((r) => socket.close(() => r())) };
}
