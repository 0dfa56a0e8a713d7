// The MutatingWebhookConfiguration that registers the webhook, as a plain object (pure). The Helm
// chart renders the same shape; tests create it with it.

import { INJECT_LABEL, SYSTEM_NAMESPACES } from '../core/constants.js';
import { INTERCEPTS_PATH, MUTATE_PATH } from './app.js';

export const WEBHOOK_NAME = 'inject.detour.dev';
/** Intercept admission: the creator stamp and the policies (failurePolicy Fail). */
export const INTERCEPT_WEBHOOK_NAME = 'intercepts.detour.dev';
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
  /**
   * Also register Intercept admission (CREATE/UPDATE of intercepts.detour.dev, path /intercepts,
   * failurePolicy Fail). `operatorUsername` (system:serviceaccount:NS:NAME) is left out by a
   * matchCondition: the operator only writes finalizers, and must remove them even while the webhook
   * is down, or deleting an Intercept would wait for the webhook.
   */
  interceptAdmission?: { operatorUsername?: string };
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
    }, ...(o.interceptAdmission ? [buildInterceptWebhook(o, o.interceptAdmission)] : [])],
  };
}

function buildInterceptWebhook(o: WebhookRegistrationOptions, ia: NonNullable<WebhookRegistrationOptions['interceptAdmission']>): Record<string, unknown> {
  let clientConfig: Record<string, unknown>;
  if ('url' in o.clientConfig) {
    const url = new URL(o.clientConfig.url);
    url.pathname = INTERCEPTS_PATH;
    clientConfig = { url: url.toString() };
  } else {
    clientConfig = { service: { port: 443, ...o.clientConfig.service, path: INTERCEPTS_PATH } };
  }
  if (o.caBundlePem) clientConfig.caBundle = Buffer.from(o.caBundlePem, 'utf8').toString('base64');
  return {
    name: INTERCEPT_WEBHOOK_NAME,
    admissionReviewVersions: ['v1'],
    clientConfig,
    rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['detour.dev'], apiVersions: ['*'], resources: ['intercepts'], scope: 'Namespaced' }],
    // A security boundary: while the webhook cannot answer, no Intercept is created or changed.
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    sideEffects: 'None',
    reinvocationPolicy: 'Never',
    timeoutSeconds: o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    ...(ia.operatorUsername ? { matchConditions: [{ name: 'not-the-operator', expression: `request.userInfo.username != '${ia.operatorUsername}'` }] } : {}),
  };
}
