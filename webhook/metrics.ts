// Webhook metrics, controller-runtime style names, registered on the registry main.ts builds.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AdmissionResult } from './admission.js';

export interface WebhookMetrics {
  admissions: Counter<'result'>;
  admissionDuration: Histogram<'result'>;
  certificateNotAfter: Gauge;
  certificateReloads: Counter<'outcome'>;
  observeAdmission(result: AdmissionResult, seconds: number): void;
}

export function buildWebhookMetrics(registry: Registry): WebhookMetrics {
  const admissions = new Counter({ name: 'detour_webhook_admissions_total', help: 'AdmissionReviews answered, by result (pods: injected, skipped, ignored, malformed, error; Intercepts: intercept_allowed, intercept_denied, intercept_ignored, intercept_error).', labelNames: ['result'], registers: [registry] });
  const admissionDuration = new Histogram({
    name: 'detour_webhook_admission_duration_seconds', help: 'Time to answer an AdmissionReview, from body parsed to response built.',
    labelNames: ['result'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry],
  });
  const certificateNotAfter = new Gauge({ name: 'detour_webhook_certificate_expiration_timestamp_seconds', help: 'notAfter of the serving certificate in use.', registers: [registry] });
  const certificateReloads = new Counter({ name: 'detour_webhook_certificate_reloads_total', help: 'Serving certificate reloads, by outcome (success, failure).', labelNames: ['outcome'], registers: [registry] });
  return {
    admissions, admissionDuration, certificateNotAfter, certificateReloads,
    observeAdmission(result, seconds) {
      admissions.inc({ result });
      admissionDuration.observe({ result }, seconds);
    },
  };
}
