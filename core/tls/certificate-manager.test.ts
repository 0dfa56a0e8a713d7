import { describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { buildLogger } from '../logging.js';
import { startCertificateManager, type Clock } from './certificate-manager.js';
import type { CertificateStore, SecretWrite, StoredSecret } from './certificate-store.js';
import type { KeyPairPem } from './certificates.js';

class MemoryStore implements CertificateStore {
  secrets = new Map<string, StoredSecret & { type: string }>();
  bundles: string[] | undefined = [''];
  version = 0;
  writes = 0;
  async readSecret(namespace: string, name: string) {
    const s = this.secrets.get(`${namespace}/${name}`);
    return s ? { data: { ...s.data }, resourceVersion: s.resourceVersion } : undefined;
  }
  async writeSecret(w: SecretWrite) {
    const key = `${w.namespace}/${w.name}`;
    const existing = this.secrets.get(key);
    if ((existing && existing.resourceVersion !== w.resourceVersion) || (!existing && w.resourceVersion)) {
      throw Object.assign(new Error('conflict'), { code: 409 });
    }
    this.writes++;
    this.secrets.set(key, { data: { ...w.data }, type: w.type, resourceVersion: String(++this.version) });
  }
  async readCaBundles() { return this.bundles ? [...this.bundles] : undefined; }
  async patchCaBundles(_name: string, pem: string, count: number) { this.bundles = Array.from({ length: count }, () => pem); }
}

class FakeClock implements Clock {
  constructor(public t: Date) {}
  now() { return this.t; }
  advanceHours(h: number) { this.t = new Date(this.t.getTime() + h * 3600_000); }
}

const logger = buildLogger({ name: 'test', level: 'silent' });

function trustedByBundle(store: MemoryStore, certPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const cas = (store.bundles?.[0] ?? '').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return cas.some((pem) => cert.verify(new X509Certificate(pem).publicKey));
}

function manager(store: MemoryStore, clock: Clock, seen: KeyPairPem[] = [], policy = {}) {
  return startCertificateManager({
    store, clock, logger, manual: true, namespace: 'detour-system', secretName: 'detour-webhook-tls',
    webhookConfigName: 'detour', serviceName: 'detour-webhook', ipAddresses: ['127.0.0.1'], policy,
    onServingCertificate: (pair) => seen.push(pair),
  });
}

describe('startCertificateManager', () => {
  it('sets up a CA, a serving certificate the webhook configuration trusts, and then leaves them alone', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(new Date('2026-03-01T00:00:00Z'));
    const seen: KeyPairPem[] = [];
    const m = manager(store, clock, seen);
    const first = await m.reconcile();
    expect(first.wrote).toEqual({ ca: true, serving: true, caBundle: true });
    expect(seen).toHaveLength(1);
    expect(trustedByBundle(store, seen[0]!.certPem)).toBe(true);
    const secret = store.secrets.get('detour-system/detour-webhook-tls')!;
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(new X509Certificate(secret.data['tls.crt']!).checkHost('detour-webhook.detour-system.svc')).toBeDefined();
    expect(store.secrets.get('detour-system/detour-webhook-tls-ca')!.data['tls.key']).toMatch(/PRIVATE KEY/);
    // node-forge writes names as PrintableString; Go's x509 (the API server) refuses characters outside it.
    const caCert = new X509Certificate(store.secrets.get('detour-system/detour-webhook-tls-ca')!.data['tls.crt']!);
    for (const name of [caCert.subject, new X509Certificate(secret.data['tls.crt']!).subject]) expect(name).toMatch(/^CN=[A-Za-z0-9 '()+,\-./:=?]+$/);

    const writes = store.writes;
    clock.advanceHours(1);
    const second = await m.reconcile();
    expect(second.wrote).toEqual({ ca: false, serving: false, caBundle: false });
    expect(store.writes).toBe(writes);
    expect(seen).toHaveLength(1);
  });

  it('rotates the serving certificate well before it expires and hands the new one over', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(new Date('2026-03-01T00:00:00Z'));
    const seen: KeyPairPem[] = [];
    const m = manager(store, clock, seen);
    await m.reconcile();
    clock.advanceHours(17);
    const outcome = await m.reconcile();
    expect(outcome.wrote.serving).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.certPem).not.toBe(seen[0]!.certPem);
    expect(new Date(new X509Certificate(seen[0]!.certPem).validTo).getTime()).toBeGreaterThan(clock.now().getTime());
    expect(m.current()).toEqual(seen[1]);
  });

  it('renews the CA without a moment where the served certificate is untrusted', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(new Date('2026-03-01T00:00:00Z'));
    const seen: KeyPairPem[] = [];
    const m = manager(store, clock, seen, { caValidityDays: 3 });
    await m.reconcile();
    let waits = 0;
    for (let step = 0; step < 80; step++) {
      clock.advanceHours(1.5);
      // A "wait" pass (new CA not yet trusted) becomes an "issue" pass once the bundle has the new CA.
      const outcome = await m.reconcile();
      if (outcome.plan.serving.action === 'wait') waits++;
      expect(trustedByBundle(store, m.current()!.certPem)).toBe(true);
      expect(new Date(new X509Certificate(m.current()!.certPem).validTo).getTime()).toBeGreaterThan(clock.now().getTime());
    }
    expect(waits).toBeGreaterThan(0);
    const cas = new Set(seen.map((p) => new X509Certificate(p.certPem).issuer));
    expect(cas.size).toBeGreaterThan(1); // the CA really was replaced along the way
  });

  it('two replicas racing converge on one certificate', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(new Date('2026-03-01T00:00:00Z'));
    const a = manager(store, clock);
    const b = manager(store, clock);
    await Promise.all([a.reconcile(), b.reconcile()]);
    await Promise.all([a.reconcile(), b.reconcile()]);
    await Promise.all([a.reconcile(), b.reconcile()]);
    expect(a.current()).toBeDefined();
    expect(a.current()).toEqual(b.current());
    expect(trustedByBundle(store, a.current()!.certPem)).toBe(true);
  });

  it('works without a webhook configuration (it may be installed later) and patches it once it appears', async () => {
    const store = new MemoryStore();
    store.bundles = undefined;
    const clock = new FakeClock(new Date('2026-03-01T00:00:00Z'));
    const m = manager(store, clock);
    expect((await m.reconcile()).wrote).toEqual({ ca: true, serving: true, caBundle: false });
    store.bundles = [''];
    expect((await m.reconcile()).wrote.caBundle).toBe(true);
    expect(trustedByBundle(store, m.current()!.certPem)).toBe(true);
  });
});
