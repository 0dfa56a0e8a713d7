import { describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { buildCertificateAuthority, buildLeafCertificate, certificateValidity } from './certificates.js';

describe('certificates', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const ca = buildCertificateAuthority({ commonName: 'detour-test-ca', now });

  it('issues a serving certificate that the CA verifies and that names its hosts', () => {
    const leaf = buildLeafCertificate({ ca, commonName: 'webhook', dnsNames: ['webhook.detour-system.svc'], ipAddresses: ['127.0.0.1'], now, validityHours: 2 });
    const x = new X509Certificate(leaf.certPem);
    expect(x.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(x.checkHost('webhook.detour-system.svc')).toBe('webhook.detour-system.svc');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkHost('other.example')).toBeUndefined();
    expect(certificateValidity(leaf.certPem).notAfter.toISOString()).toBe('2026-01-01T02:00:00.000Z');
  });

  it('a certificate of another CA does not verify', () => {
    const other = buildCertificateAuthority({ commonName: 'other', now });
    const leaf = buildLeafCertificate({ ca: other, commonName: 'x', now });
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(false);
  });
});
