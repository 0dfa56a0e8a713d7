// TypeScript shape of the Intercept resource (detour.dev/v1alpha1). crds/intercepts.detour.dev.yaml
// is the source of truth; these types follow it. Objects are handled as plain JSON, never through
// client-node's ObjectSerializer.

import type { BaggageRule, CookieRule, FallbackPolicy, HeaderRule, InterceptMode, QueryRule } from '../routing/table.js';
import type { Condition } from './conditions.js';
import type { WorkloadName } from '../workload-ref.js';

export type { WorkloadKind } from '../workload-ref.js';

export type InterceptPhase = 'Pending' | 'Waiting' | 'Active' | 'Expired' | 'Conflict' | 'Failed';
export const INTERCEPT_PHASES: readonly InterceptPhase[] = ['Pending', 'Waiting', 'Active', 'Expired', 'Conflict', 'Failed'];

export interface InterceptMatch {
  headers?: HeaderRule[];
  baggage?: BaggageRule[];
  cookies?: CookieRule[];
  query?: QueryRule[];
  pathPrefix?: string;
}

export interface InterceptSpec {
  workload: WorkloadName;
  /** Defaulted to `http` by the API server. */
  port?: string | number;
  /** Absent: a global intercept. */
  match?: InterceptMatch;
  mode?: InterceptMode;
  fallback?: FallbackPolicy;
  owner?: string;
  /** A Go duration string (`8h`, `1h30m`). */
  ttl?: string;
  /** Who else may connect (read the token); the creator always may. Allowed by policy. */
  connectors?: InterceptConnector[];
}

/** A RoleBinding subject: who may read this Intercept's token Secret. */
export interface InterceptConnector {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
}

export interface InterceptStatus {
  phase?: InterceptPhase;
  observedGeneration?: number;
  conditions?: Condition[];
  sidecars?: { ready: number; desired: number };
  clients?: number;
  tokenSecretName?: string;
  expiresAt?: string;
  /** The Detour version of the operator that wrote this status (0.2.0 on). */
  operatorVersion?: string;
  /** `Kind [ns/]name` of the policy that allows it; absent when no policy selects the workload. */
  allowedBy?: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface Intercept {
  apiVersion: string;
  kind: 'Intercept';
  metadata: ObjectMeta & { namespace: string };
  spec: InterceptSpec;
  status?: InterceptStatus;
}

/** Condition types an Intercept reports. */
export const CONDITION = {
  workloadFound: 'WorkloadFound',
  sidecarsReady: 'SidecarsReady',
  routed: 'Routed',
  clientConnected: 'ClientConnected',
  /** False when a Service that selects the workload's pods targets the app behind the sidecar's back. */
  servicesReachSidecar: 'ServicesReachSidecar',
} as const;

/** `namespace/name`, the key of an Intercept in queues and routes. */
export function interceptKey(i: { metadata: { namespace?: string; name: string } }): string {
  return `${i.metadata.namespace ?? ''}/${i.metadata.name}`;
}

/** The name of the Secret that holds an Intercept's tunnel token. */
export function tokenSecretName(interceptName: string): string {
  return `${interceptName}-detour-token`;
}

export const TOKEN_SECRET_KEY = 'token';
