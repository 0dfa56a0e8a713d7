import { describe, expect, it } from '@jest/globals';
import { Resolver } from 'node:dns/promises';
import { resolveServiceName, startDnsServer, type ServiceRecord } from './dns-server.js';

const services: ServiceRecord[] = [
  { namespace: 'shop', name: 'checkout', addresses: ['10.96.1.20'] },
  { namespace: 'shop', name: 'db', addresses: ['10.244.1.7', '10.244.1.8'] },
];

describe('resolveServiceName', () => {
  it.each([
    ['checkout.shop.svc.cluster.local', ['10.96.1.20']],
    ['checkout.shop.svc.cluster.local.', ['10.96.1.20']],
    ['db.shop.svc.cluster.local', ['10.244.1.7', '10.244.1.8']],
    ['checkout.other.svc.cluster.local', undefined],
    ['checkout.shop', undefined],
    ['example.com', undefined],
  ])('%s', (name, expected) => expect(resolveServiceName(name, services)).toEqual(expected));
});

describe('the DNS server', () => {
  it('answers a real resolver with A records, NXDOMAIN for unknown names and nothing for AAAA', async () => {
    const server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup: (n) => resolveServiceName(n, services) });
    try {
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${server.port}`]);
      expect(await resolver.resolve4('db.shop.svc.cluster.local')).toEqual(['10.244.1.7', '10.244.1.8']);
      await expect(resolver.resolve4('nope.shop.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });
      await expect(resolver.resolve6('checkout.shop.svc.cluster.local')).rejects.toMatchObject({ code: 'ENODATA' });
    } finally {
      await server.close();
    }
  });
});
