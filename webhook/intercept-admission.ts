// Admission of Intercepts (pure): records who created one, keeps that record from changing, and
// refuses what the policies do not allow. One function from the AdmissionReview request and the
// policies gathered for it (intercept-policy-source.ts) to the answer.
//
// CREATE: the annotation detour.dev/creator is set from request.userInfo (whatever the request
//   carried is overwritten), spec.owner defaults to the username, spec.ttl to the applicable
//   policy's defaultTtl; then the policies decide.
// UPDATE: the annotation must stay as it was; when a request drops it (a server-side apply or a
//   PUT of a manifest that never had it) the old value is put back; any other change is refused.
//   The policies decide again when the spec changed (not for metadata-only writes such as the
//   operator's finalizer, nor while the Intercept is being deleted).

import type { Intercept } from '../core/api/intercept.js';
import { buildPointer, type JsonPatchOperation } from '../core/json-patch.js';
import { CREATOR_ANNOTATION, formatCreator, readCreator, type Creator } from '../core/policy/creator.js';
import { evaluatePolicies, planDefaultTtl, type PolicyInput, type PolicyVerdict } from '../core/policy/evaluate.js';
import type { PolicyObject } from '../core/policy/types.js';
import { isWorkloadKind, type WorkloadKind } from '../core/workload-ref.js';
import { ADMISSION_API_VERSION, type AdmissionRequest } from './admission.js';

/**
 * Which policy admission found allowing the Intercept (empty: none selects it), written on CREATE
 * and on every UPDATE of the spec. Informational — `detour policy check` reads it from a dry run;
 * status.allowedBy is what the operator finds now.
 */
export const ADMITTED_BY_ANNOTATION = 'detour.dev/admitted-by';

export interface UserInfo {
  username?: string;
  groups?: string[];
}

export type InterceptAdmissionRequest = AdmissionRequest & { userInfo?: UserInfo; oldObject?: unknown };

/** What the policies need to know about one Intercept's surroundings. */
export interface PolicyContext {
  policies: PolicyObject[];
  workloadLabels?: Record<string, string>;
  namespaceLabels?: Record<string, string>;
}

export interface InterceptAdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface InterceptAdmission {
  response: InterceptAdmissionResponse;
  /** For the log line and the metric. */
  result: 'allowed' | 'denied' | 'ignored';
  message: string;
  /** The verdict's policy, for the log. */
  policy?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isInterceptRequest(r: AdmissionRequest): boolean {
  return r.kind.group === 'detour.dev' && r.kind.kind === 'Intercept' && r.resource.resource === 'intercepts' && !r.subResource;
}

/** The Intercept's workload, when the object names one the CRD would accept. */
export function workloadOfObject(object: unknown): { kind: WorkloadKind; name: string } | undefined {
  const spec = isObject(object) && isObject(object.spec) ? object.spec : undefined;
  const w = spec && isObject(spec.workload) ? spec.workload : undefined;
  return w && isWorkloadKind(w.kind) && typeof w.name === 'string' ? { kind: w.kind, name: w.name } : undefined;
}

export function buildDenied(uid: string, message: string, code = 403): InterceptAdmissionResponse {
  return { uid, allowed: false, status: { code, reason: code === 403 ? 'Forbidden' : code === 503 ? 'ServiceUnavailable' : 'BadRequest', message } };
}

function allow(uid: string, ops: JsonPatchOperation[], warnings: string[] = []): InterceptAdmissionResponse {
  const r: InterceptAdmissionResponse = { uid, allowed: true };
  if (ops.length > 0) { r.patchType = 'JSONPatch'; r.patch = Buffer.from(JSON.stringify(ops)).toString('base64'); }
  if (warnings.length > 0) r.warnings = warnings;
  return r;
}

export function creatorOf(userInfo: UserInfo | undefined): Creator | undefined {
  if (!userInfo || typeof userInfo.username !== 'string' || userInfo.username === '') return undefined;
  const groups = Array.isArray(userInfo.groups) ? userInfo.groups.filter((g): g is string => typeof g === 'string') : [];
  return { username: userInfo.username, groups };
}

function policyInput(namespace: string, object: Intercept, creator: Creator | undefined, ctx: PolicyContext, workload: { kind: WorkloadKind; name: string }): PolicyInput {
  return {
    namespace, spec: object.spec, creator,
    workload: { ...workload, ...(ctx.workloadLabels ? { labels: ctx.workloadLabels } : {}) },
    ...(ctx.namespaceLabels ? { namespaceLabels: ctx.namespaceLabels } : {}),
    policies: ctx.policies,
  };
}

function refusal(name: string, namespace: string, v: Extract<PolicyVerdict, { allowed: false }>): string {
  return `Intercept ${namespace}/${name}: ${v.message}`;
}

/** The whole decision for one Intercept AdmissionReview request. Never throws. */
export function planInterceptAdmission(request: InterceptAdmissionRequest, ctx: PolicyContext): InterceptAdmission {
  const uid = request.uid;
  const namespace = request.namespace ?? '';
  if (!isInterceptRequest(request) || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return { response: allow(uid, []), result: 'ignored', message: `Ignored ${request.operation} ${request.kind.kind}` };
  }
  if (!isObject(request.object) || !isObject(request.object.metadata) || !isObject(request.object.spec)) {
    return { response: buildDenied(uid, 'the Intercept has no metadata or spec', 400), result: 'denied', message: 'Refused an Intercept without metadata or spec' };
  }
  const object = request.object as unknown as Intercept;
  const generateName = (object.metadata as { generateName?: unknown }).generateName;
  const name = object.metadata.name || request.name || (typeof generateName === 'string' ? `${generateName}*` : '(unnamed)');
  const annotations = isObject(object.metadata.annotations) ? object.metadata.annotations : undefined;
  const workload = workloadOfObject(object);
  const ops: JsonPatchOperation[] = [];
  let creator: Creator | undefined;
  let evaluate = true;

  if (request.operation === 'CREATE') {
    creator = creatorOf(request.userInfo);
    if (!creator) return { response: buildDenied(uid, 'the request carries no username (request.userInfo) to record as creator'), result: 'denied', message: `Refused Intercept ${namespace}/${name} without a username` };
    if (!annotations) ops.push({ op: 'add', path: '/metadata/annotations', value: {} });
    ops.push({ op: 'add', path: buildPointer('metadata', 'annotations', CREATOR_ANNOTATION), value: formatCreator(creator) });
    if (typeof object.spec.owner !== 'string' || object.spec.owner === '') ops.push({ op: 'add', path: '/spec/owner', value: creator.username });
  } else {
    const old = isObject(request.oldObject) ? request.oldObject as unknown as Intercept : undefined;
    const oldAnnotations = old && isObject(old.metadata?.annotations) ? old.metadata.annotations : undefined;
    const before = oldAnnotations?.[CREATOR_ANNOTATION];
    const after = annotations?.[CREATOR_ANNOTATION];
    if (after === undefined && before !== undefined) {
      if (!annotations) ops.push({ op: 'add', path: '/metadata/annotations', value: {} });
      ops.push({ op: 'add', path: buildPointer('metadata', 'annotations', CREATOR_ANNOTATION), value: before });
    } else if (after !== before) {
      const message = `Intercept ${namespace}/${name}: the annotation ${CREATOR_ANNOTATION} is recorded by admission when the Intercept is created and cannot be ${before === undefined ? 'added' : 'changed'}`;
      return { response: buildDenied(uid, message), result: 'denied', message: `Refused a change of the creator of Intercept ${namespace}/${name}` };
    }
    creator = readCreator(oldAnnotations);
    const deleting = typeof object.metadata.deletionTimestamp === 'string';
    evaluate = !deleting && JSON.stringify(old?.spec ?? null) !== JSON.stringify(object.spec);
  }

  if (!evaluate || !workload) {
    // Without a valid workload the CRD schema refuses the object after admission.
    return { response: allow(uid, ops), result: 'allowed', message: `Admitted ${request.operation} of Intercept ${namespace}/${name}` };
  }
  let spec = object.spec;
  if (request.operation === 'CREATE') {
    const ttl = planDefaultTtl(policyInput(namespace, object, creator, ctx, workload));
    if (ttl) {
      ops.push({ op: 'add', path: '/spec/ttl', value: ttl });
      spec = { ...spec, ttl };
    }
  }
  const verdict = evaluatePolicies(policyInput(namespace, { ...object, spec }, creator, ctx, workload));
  if (!verdict.allowed) {
    return { response: buildDenied(uid, refusal(name, namespace, verdict)), result: 'denied', message: `Refused Intercept ${namespace}/${name}: ${verdict.message}`, policy: verdict.policy };
  }
  if (annotations?.[ADMITTED_BY_ANNOTATION] !== (verdict.policy ?? '')) {
    if (!annotations && !ops.some((op) => op.path === '/metadata/annotations')) ops.push({ op: 'add', path: '/metadata/annotations', value: {} });
    ops.push({ op: 'add', path: buildPointer('metadata', 'annotations', ADMITTED_BY_ANNOTATION), value: verdict.policy ?? '' });
  }
  return {
    response: allow(uid, ops), result: 'allowed', ...(verdict.policy ? { policy: verdict.policy } : {}),
    message: `Admitted ${request.operation} of Intercept ${namespace}/${name}${verdict.policy ? ` (allowed by ${verdict.policy})` : ''}`,
  };
}

export function buildInterceptReview(response: InterceptAdmissionResponse) {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview' as const, response };
}
