// The MutatingWebhookConfiguration that registers the webhook, as a plain object (pure). The Helm
// chart renders the same shape; tests create it with it.

import { INJECT_LABEL, SYSTEM_NAMESPACES } from '../core/constants.js';
import { MUTATE_PATH } from './app.js';

export const WEBHOOK_NAME = 'inject.detour.dev';
export const DEFAULT_TIMEOUT_SECONDS = 5;

export type WebhookClientConfig =
  | { service: { namespace: string; name: string; port?: number; path?: string } }
  | { url: string };

export interface WebhookRegistrationOptions {
  /** metadata.name of the configuration. */
  name: string;
  clientConfig: WebhookClientConfig;
  /** PEM of the CA(s) that sign the serving certificate; omitted when cert-manager injects it. */
  caBundlePem?: string;
  timeoutSeconds?: number;
  systemNamespaces?: readonly string[];
  labels?: Record<string, string>;
  /** `namespace/name` of a cert-manager Certificate: its CA is injected by cert-manager's cainjector. */
  certManagerCertificate?: string;
}

export interface MutatingWebhookConfigurationObject {
  apiVersion: 'admissionregistration.k8s.io/v1';
  kind: 'MutatingWebhookConfiguration';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  webhooks: Record<string, unknown>[];
}

export function buildMutatingWebhookConfiguration(o: WebhookRegistrationOptions): MutatingWebhookConfigurationObject {
  const clientConfig: Record<string, unknown> = 'url' in o.clientConfig
    ? { url: o.clientConfig.url }
    : { service: { path: MUTATE_PATH, port: 443, ...o.clientConfig.service } };
  if (o.caBundlePem) clientConfig.caBundle = Buffer.from(o.caBundlePem, 'utf8').toString('base64');
  const annotations = o.certManagerCertificate ? { 'cert-manager.io/inject-ca-from': o.certManagerCertificate } : undefined;
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: o.name, ...(o.labels ? { labels: o.labels } : {}), ...(annotations ? { annotations } : {}) },
    webhooks: [{
      name: WEBHOOK_NAME,
      admissionReviewVersions: ['v1'],
      clientConfig,
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      failurePolicy: 'Ignore',
      matchPolicy: 'Equivalent',
      sideEffects: 'None',
      reinvocationPolicy: 'IfNeeded',
      timeoutSeconds: o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      objectSelector: { matchLabels: { [INJECT_LABEL]: 'true' } },
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...(o.systemNamespaces ?? SYSTEM_NAMESPACES)] }] },
    }],
  };
}
