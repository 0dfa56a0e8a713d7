import { describe, expect, it } from '@jest/globals';
import { buildHostsFile, loopbackAddress, planHostsEntries, planNamespaceCommand } from './hosts-namespace.js';

describe('planHostsEntries', () => {
  it('maps each TCP Service to its own loopback address, short names only in the command namespace', () => {
    const entries = planHostsEntries([
      { metadata: { name: 'redis', namespace: 'shop' }, spec: { ports: [{ port: 6379 }] } },
      { metadata: { name: 'dns', namespace: 'shop' }, spec: { ports: [{ port: 53, protocol: 'UDP' }] } },
      { metadata: { name: 'inventory', namespace: 'stock' }, spec: { ports: [{ port: 8080 }, { port: 8080 }, { port: 9090 }] } },
    ], 'shop');
    expect(entries).toEqual([
      { address: '127.77.0.1', names: ['redis', 'redis.shop', 'redis.shop.svc', 'redis.shop.svc.cluster.local'], service: 'redis.shop', ports: [6379] },
      { address: '127.77.0.2', names: ['inventory.stock', 'inventory.stock.svc', 'inventory.stock.svc.cluster.local'], service: 'inventory.stock', ports: [8080, 9090] },
    ]);
  });
  it('counts addresses past 255', () => {
    expect(loopbackAddress(0)).toBe('127.77.0.1');
    expect(loopbackAddress(255)).toBe('127.77.1.0');
    expect(loopbackAddress(300)).toBe('127.77.1.45');
  });
});

describe('buildHostsFile', () => {
  it('puts the cluster names before the laptop entries', () => {
    expect(buildHostsFile('127.0.0.1 localhost', [{ address: '127.77.0.1', names: ['redis', 'redis.shop'], service: 'redis.shop', ports: [6379] }]))
      .toBe('# Added by detour run: cluster Services on loopback listeners of the detour CLI\n127.77.0.1\tredis redis.shop\n\n127.0.0.1 localhost\n');
  });
});

describe('planNamespaceCommand', () => {
  const base = { hostsFile: '/tmp/d/hosts', command: ['redis-cli', 'ping'] };
  it.each([
    [{ platform: 'linux', isRoot: true, userNamespaces: false }, ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', '/tmp/d/hosts', 'redis-cli', 'ping']],
    [{ platform: 'linux', isRoot: false, userNamespaces: true }, ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', '/tmp/d/hosts', 'redis-cli', 'ping']],
  ])('%j', (o, args) => expect(planNamespaceCommand({ ...base, ...o })).toMatchObject({ ok: true, file: 'unshare', args }));
  it.each([
    [{ platform: 'darwin', isRoot: false, userNamespaces: false }, /needs Linux/],
    [{ platform: 'linux', isRoot: false, userNamespaces: false }, /user namespaces are disabled/],
  ])('falls back with a reason: %j', (o, reason) => {
    const p = planNamespaceCommand({ ...base, ...o });
    expect(p.ok).toBe(false);
    expect(!p.ok && p.reason).toMatch(reason);
  });
});
