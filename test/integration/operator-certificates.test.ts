// The operator keeps the webhook's certificates while it leads (docs/webhook.md: the operator owns
// them, the webhook only reads the mounted Secret), and leaves them alone when told cert-manager does.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { AdmissionregistrationV1Api, CoreV1Api, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { RunningOperator } from '../../operator/operator.js';
import { buildMutatingWebhookConfiguration } from '../../webhook/registration.js';
import { applyInterceptCrd, buildKubeClient, startTestOperator } from './support/operator-harness.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
let ns: string;
let configName: string;
const operators: RunningOperator[] = [];

beforeAll(async () => {
  await applyInterceptCrd(buildKubeClient(kc));
  ns = await createNamespace(kc, 'opcerts');
  configName = `detour-opcerts-${ns}`;
  const registration = buildMutatingWebhookConfiguration({ name: configName, clientConfig: { service: { namespace: ns, name: 'detour-webhook' } }, systemNamespaces: ['kube-system', ns] });
  // Nothing opts in to this configuration's object selector in other tests' namespaces: match no namespace.
  registration.webhooks[0]!.namespaceSelector = { matchLabels: { 'detour.dev/never': 'true' } };
  await admission.createMutatingWebhookConfiguration({ body: registration as unknown as V1MutatingWebhookConfiguration });
});

afterAll(async () => {
  for (const op of operators) await op.stop();
  await admission.deleteMutatingWebhookConfiguration({ name: configName }).catch(() => undefined);
  await deleteNamespace(kc, ns);
});

describe('the operator and the webhook certificates', () => {
  it('leaves them alone without webhookCertificates (cert-manager mode)', async () => {
    const op = await startTestOperator(kc, { leaseNamespace: ns, leaseName: 'cm-mode' });
    operators.push(op);
    await eventually('the operator to lead', async () => (op.isReady() ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    await expect(core.readNamespacedSecret({ namespace: ns, name: 'detour-webhook-tls' })).rejects.toMatchObject({ code: 404 });
    await op.stop();
    operators.pop();
  });

  it('issues the serving certificate for the Service and patches the caBundle that trusts it, once leading', async () => {
    const op = await startTestOperator(kc, {
      leaseNamespace: ns, leaseName: 'self-mode',
      webhookCertificates: { namespace: ns, secretName: 'detour-webhook-tls', webhookConfigName: configName, serviceName: 'detour-webhook' },
    });
    operators.push(op);
    const serving = await eventually('the serving Secret', async () => {
      const s = await core.readNamespacedSecret({ namespace: ns, name: 'detour-webhook-tls' });
      return s.data?.['tls.crt'] ? s : undefined;
    }, 30_000);
    expect(serving.type).toBe('kubernetes.io/tls');
    const cert = new X509Certificate(Buffer.from(serving.data!['tls.crt']!, 'base64'));
    expect(cert.subjectAltName).toContain(`DNS:detour-webhook.${ns}.svc`);
    const bundle = await eventually('the caBundle', async () => {
      const c = await admission.readMutatingWebhookConfiguration({ name: configName });
      return c.webhooks?.[0]?.clientConfig.caBundle;
    }, 30_000);
    const cas = Buffer.from(bundle, 'base64').toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    expect(cas.some((pem) => cert.verify(new X509Certificate(pem).publicKey))).toBe(true);
  });
});
