// AdmissionReview v1 envelopes: reading an untrusted request, building the response. Pure.

import type { JsonPatchOperation } from '../core/json-patch.js';
import type { WebhookErrorCode } from './errors.js';
import { planInjection } from './planner.js';
import type { InjectionConfig } from './config.js';
import { readPod } from './pod.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface GroupVersionKind { group: string; version: string; kind: string }
export interface GroupVersionResource { group: string; version: string; resource: string }

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: string;
  object?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  /** base64 of the JSON patch. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export type ReadReview = { ok: true; request: AdmissionRequest } | { ok: false; code: WebhookErrorCode; reason: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isGroupVersion(v: unknown, last: 'kind' | 'resource'): boolean {
  return isObject(v) && typeof v.group === 'string' && typeof v.version === 'string' && typeof v[last] === 'string';
}

/** Checks the envelope; the object inside is checked by `readPod` when it is a pod. */
export function readAdmissionReview(body: unknown): ReadReview {
  if (!isObject(body)) return { ok: false, code: 'NOT_ADMISSION_REVIEW', reason: 'body must be a JSON object' };
  if (body.kind !== 'AdmissionReview') return { ok: false, code: 'NOT_ADMISSION_REVIEW', reason: 'kind must be AdmissionReview' };
  if (body.apiVersion !== ADMISSION_API_VERSION) return { ok: false, code: 'NOT_ADMISSION_REVIEW', reason: `apiVersion must be ${ADMISSION_API_VERSION}` };
  const r = body.request;
  if (!isObject(r)) return { ok: false, code: 'INVALID_REQUEST', reason: 'request must be an object' };
  if (typeof r.uid !== 'string' || r.uid === '' || r.uid.length > 256) return { ok: false, code: 'INVALID_REQUEST', reason: 'request.uid must be a non-empty string' };
  if (!isGroupVersion(r.kind, 'kind')) return { ok: false, code: 'INVALID_REQUEST', reason: 'request.kind must have group, version and kind' };
  if (!isGroupVersion(r.resource, 'resource')) return { ok: false, code: 'INVALID_REQUEST', reason: 'request.resource must have group, version and resource' };
  if (typeof r.operation !== 'string') return { ok: false, code: 'INVALID_REQUEST', reason: 'request.operation must be a string' };
  for (const f of ['namespace', 'name', 'subResource'] as const) {
    if (r[f] !== undefined && r[f] !== null && typeof r[f] !== 'string') return { ok: false, code: 'INVALID_REQUEST', reason: `request.${f} must be a string` };
  }
  if (r.dryRun !== undefined && r.dryRun !== null && typeof r.dryRun !== 'boolean') return { ok: false, code: 'INVALID_REQUEST', reason: 'request.dryRun must be a boolean' };
  return { ok: true, request: r as unknown as AdmissionRequest };
}

const WARNING_PREFIX = 'detour: ';
const MAX_WARNING_LENGTH = 120;

/** Kubernetes shows warnings as single lines; keep them printable and short. */
export function sanitizeWarning(text: string): string {
  const clean = (WARNING_PREFIX + text).replace(/[^\x20-\x7e]/g, '?');
  return clean.length > MAX_WARNING_LENGTH ? clean.slice(0, MAX_WARNING_LENGTH - 3) + '...' : clean;
}

export function buildAdmissionReview(uid: string, ops: readonly JsonPatchOperation[], warnings: readonly string[]): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (ops.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(ops)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = warnings.map(sanitizeWarning);
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

export type AdmissionResult = 'injected' | 'skipped' | 'ignored' | 'malformed' | 'error';

export type AdmissionDecision =
  | { statusCode: 200; result: AdmissionResult; review: AdmissionReviewResponse; message: string; warnings: string[] }
  | { statusCode: 400; result: 'malformed'; code: WebhookErrorCode; reason: string };

function describePod(request: AdmissionRequest, object: Record<string, unknown>): string {
  const meta = isObject(object.metadata) ? object.metadata : {};
  const name = (typeof meta.name === 'string' && meta.name) || (typeof meta.generateName === 'string' && meta.generateName) || request.name || '(unnamed)';
  return `${request.namespace ?? ''}/${name}`;
}

/** The whole admission decision for one parsed request body. Never throws. */
export function decideAdmission(body: unknown, config: InjectionConfig): AdmissionDecision {
  const read = readAdmissionReview(body);
  if (!read.ok) return { statusCode: 400, result: 'malformed', code: read.code, reason: read.reason };
  const request = read.request;
  try {
    const isPod = request.kind.group === '' && request.kind.kind === 'Pod' && request.resource.resource === 'pods' && !request.subResource;
    if (!isPod || request.operation !== 'CREATE') {
      const what = `${request.operation} ${request.kind.kind}${request.subResource ? '/' + request.subResource : ''}`;
      const warnings = [`webhook only handles pod CREATE, not ${what}; left unchanged`];
      return { statusCode: 200, result: 'ignored', review: buildAdmissionReview(request.uid, [], warnings), message: `Ignored ${what}`, warnings };
    }
    const pod = readPod(request.object);
    if (!pod.ok) return { statusCode: 400, result: 'malformed', code: 'MALFORMED_POD', reason: pod.reason };
    const where = describePod(request, request.object as Record<string, unknown>);
    const namespace = request.namespace || pod.value.metadata.namespace || '';
    const plan = planInjection({ pod: pod.value, namespace, config });
    if (plan.action === 'skip') {
      const warnings = plan.quiet ? [] : [`sidecar not injected: ${plan.reason}`];
      return { statusCode: 200, result: 'skipped', review: buildAdmissionReview(request.uid, [], warnings), message: `Skipped pod ${where}: ${plan.reason}`, warnings };
    }
    return { statusCode: 200, result: 'injected', review: buildAdmissionReview(request.uid, plan.ops, plan.warnings), message: `Injected sidecar into pod ${where}`, warnings: plan.warnings };
  } catch (err) {
    // A planner bug must not block pod creation: allow, unchanged, and say so.
    const reason = err instanceof Error ? `${err.name}: ${err.message.slice(0, 100)}` : 'unknown error';
    const warnings = [`sidecar not injected: internal error (${reason})`];
    return { statusCode: 200, result: 'error', review: buildAdmissionReview(request.uid, [], warnings), message: 'Failed to plan injection', warnings };
  }
}
