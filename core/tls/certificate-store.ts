// The reads and writes the certificate manager needs, behind an interface so its unit tests use
// an in-memory store. `buildKubeCertificateStore` talks to the API server with client-node's typed
// clients (Secrets and MutatingWebhookConfigurations are built-in types, safe through its serializer).

import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { statusCodeOf } from '../errors.js';

export interface StoredSecret {
  /** Decoded values (PEM text). */
  data: Record<string, string>;
  resourceVersion: string;
}

export interface SecretWrite {
  namespace: string;
  name: string;
  type: string;
  data: Record<string, string>;
  labels?: Record<string, string>;
  /** Replace this version; absent: create (fails with 409 if it exists). */
  resourceVersion?: string;
}

export interface CertificateStore {
  readSecret(namespace: string, name: string): Promise<StoredSecret | undefined>;
  /** Throws an error with code 409 when someone else wrote first. */
  writeSecret(write: SecretWrite): Promise<void>;
  /** The PEM caBundle of each webhook of the configuration; undefined when it does not exist. */
  readCaBundles(webhookConfigName: string): Promise<string[] | undefined>;
  /** Sets every webhook's caBundle to `bundlePem`. */
  patchCaBundles(webhookConfigName: string, bundlePem: string, webhookCount: number): Promise<void>;
}

const decode = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const encode = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export function buildKubeCertificateStore(kc: KubeConfig): CertificateStore {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  return {
    async readSecret(namespace, name) {
      try {
        const s = await core.readNamespacedSecret({ namespace, name });
        const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, decode(v)]));
        return { data, resourceVersion: s.metadata?.resourceVersion ?? '' };
      } catch (err) {
        if (statusCodeOf(err) === 404) return undefined;
        throw err;
      }
    },
    async writeSecret(w) {
      const body = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: w.type,
        metadata: { name: w.name, namespace: w.namespace, labels: w.labels, ...(w.resourceVersion ? { resourceVersion: w.resourceVersion } : {}) },
        data: Object.fromEntries(Object.entries(w.data).map(([k, v]) => [k, encode(v)])),
      };
      if (w.resourceVersion) await core.replaceNamespacedSecret({ namespace: w.namespace, name: w.name, body });
      else await core.createNamespacedSecret({ namespace: w.namespace, body });
    },
    async readCaBundles(name) {
      try {
        const c = await admission.readMutatingWebhookConfiguration({ name });
        return (c.webhooks ?? []).map((w) => (w.clientConfig.caBundle ? decode(w.clientConfig.caBundle) : ''));
      } catch (err) {
        if (statusCodeOf(err) === 404) return undefined;
        throw err;
      }
    },
    async patchCaBundles(name, bundlePem, webhookCount) {
      const body = Array.from({ length: webhookCount }, (_, i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: encode(bundlePem) }));
      if (body.length > 0) await admission.patchMutatingWebhookConfiguration({ name, body });
    },
  };
}
