// The pure heart of the route + status reconciler: from what was gathered (the token's hash
// included: the token reconciler runs first) and the clock, decide the phase, status, the complete
// route, whether to add the finalizer or opt the workload in, events and when to look again.
// No I/O here.

import { CONDITION, interceptKey, tokenSecretName, type Intercept, type InterceptMatch, type InterceptPhase, type InterceptStatus } from '../../core/api/intercept.js';
import { mergeConditions, type ConditionInput } from '../../core/api/conditions.js';
import { parseDuration } from '../../core/api/duration.js';
import { rfc3339 } from '../../core/api/time.js';
import { compileHeaderRule, compileValueTest } from '../../core/routing/match.js';
import { KEY_RULES_GUARD, type InterceptMode, type Route, type RouteMatch } from '../../core/routing/table.js';
import { FINALIZER, INJECT_LABEL } from '../../core/constants.js';
import { formatWorkload } from '../../core/workload-ref.js';
import { canonicalJson } from '../canonical-json.js';
import { broadMirrorProblem } from './broad-mirror.js';
import { planSidecarVersions, SIDECARS_CURRENT } from './sidecar-versions.js';
import { DETOUR_VERSION } from '../../core/version/version.js';
import type { PolicyVerdict } from '../../core/policy/evaluate.js';
import { describeBypass, planServiceBypass, type Service } from './service-bypass.js';
import { desiredReplicas, isOptedIn, podsNotTakingOver, podsWithoutSidecar, resolvePort, type Pod, type Workload } from './workload.js';

export interface SidecarStats {
  /** Sidecars of the workload connected to the operator and serving its current table. */
  ready: number;
  /** Developers connected to this intercept, summed over the sidecars' reports. */
  clients: number;
}

export interface Gathered {
  intercept: Intercept;
  /** Key of the older intercept this one yields to (from planConflicts over its siblings). */
  conflictWith?: string;
  /** The mode of that older intercept. */
  conflictWithMode?: InterceptMode;
  workload?: Workload;
  pods: Pod[];
  /** Lower-case hex SHA-256 of the token (the token reconciler made sure there is one unless the Secret is foreign). */
  tokenHash?: string;
  /** The token Secret exists but belongs to something else. */
  tokenSecretForeign?: boolean;
  sidecars: SidecarStats;
  /** Services in the Intercept's namespace; undefined when they were not gathered. */
  services?: Service[];
  /** The policies' verdict (operator/reconcile/policy.ts); undefined when policies are not watched. */
  policy?: PolicyVerdict;
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Plan {
  phase: InterceptPhase;
  /** Add our finalizer (so a deleted Intercept's route is withdrawn before it goes). */
  addFinalizer: boolean;
  /** Add the inject label to the workload's pod template. */
  optIn: boolean;
  /** The route to serve, complete; undefined: not routed. */
  route?: Route;
  status: InterceptStatus;
  statusChanged: boolean;
  events: PlannedEvent[];
  /** Events about pods (by uid, so the recorder can say each once per pod). */
  podEvents: { pod: Pod; event: PlannedEvent }[];
  /** Look again after this long (expiry), in milliseconds. */
  requeueAfterMs?: number;
}

/** creation + ttl, or undefined without a (valid) ttl. */
export function expiryOf(i: Intercept): Date | undefined {
  if (!i.spec.ttl || !i.metadata.creationTimestamp) return undefined;
  const ms = parseDuration(i.spec.ttl);
  if (ms === undefined) return undefined;
  return new Date(Date.parse(i.metadata.creationTimestamp) + ms);
}

export function isExpired(i: Intercept, now: Date): boolean {
  const e = expiryOf(i);
  return e !== undefined && now.getTime() >= e.getTime();
}

/**
 * The route's match as the sidecar gets it: only the kinds the Intercept uses, so a table without
 * baggage, cookie or query rules is the same as before they existed; with them, KEY_RULES_GUARD
 * keeps sidecars that predate them from matching the route.
 */
export function buildRouteMatch(m: InterceptMatch): RouteMatch {
  const keyed = (m.baggage?.length ?? 0) + (m.cookies?.length ?? 0) + (m.query?.length ?? 0) > 0;
  return {
    // An older sidecar ignores baggage/cookies/query and would match every request: the guard keeps it from matching at all.
    headers: keyed ? [...(m.headers ?? []), { ...KEY_RULES_GUARD }] : m.headers ?? [],
    ...(m.baggage?.length ? { baggage: m.baggage } : {}),
    ...(m.cookies?.length ? { cookies: m.cookies } : {}),
    ...(m.query?.length ? { query: m.query } : {}),
    ...(m.pathPrefix !== undefined ? { pathPrefix: m.pathPrefix } : {}),
  };
}

/**
 * Why the match cannot be compiled by the sidecar, if it cannot. The sidecar's engine is RE2
 * (re2js), the dialect the API server validates with, so this is rare: a few Unicode class names
 * Go's regexp knows and re2js does not (`\p{Cn}`, `\p{LC}`), see docs/api.md.
 */
export function invalidMatchReason(i: Intercept): string | undefined {
  const m = i.spec.match;
  if (!m) return undefined;
  try {
    // The same compilers, in the same order, as the sidecar's compileRoute.
    for (const h of m.headers ?? []) compileHeaderRule(h);
    for (const r of m.baggage ?? []) compileValueTest(r, `baggage rule for ${r.key}`);
    for (const r of m.cookies ?? []) compileValueTest(r, `cookie rule for ${r.name}`);
    for (const r of m.query ?? []) compileValueTest(r, `query rule for ${r.name}`);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Could this intercept be routed at all, judging only by itself and the clock? (Conflict candidates.) */
export function isRoutable(i: Intercept, now: Date): boolean {
  return !i.metadata.deletionTimestamp && !isExpired(i, now) && invalidMatchReason(i) === undefined && broadMirrorProblem(i) === undefined;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function planIntercept(g: Gathered, now: Date): Plan {
  const i = g.intercept;
  const gen = i.metadata.generation;
  const ref = formatWorkload(i.spec.workload);
  const ns = i.metadata.namespace;
  const port = i.spec.port ?? 'http';
  const expiresAt = expiryOf(i);
  const events: PlannedEvent[] = [];
  const conds: ConditionInput[] = [];
  const cond = (type: string, status: ConditionInput['status'], reason: string, message: string) =>
    conds.push({ type, status, reason, message, ...(gen !== undefined ? { observedGeneration: gen } : {}) });

  let phase: InterceptPhase;
  let notRoutedReason: string | undefined;
  let notRoutedMessage = '';
  let optIn = false;
  const desired = g.workload ? desiredReplicas(g.workload) : 0;
  const regexProblem = invalidMatchReason(i);
  const broadMirror = broadMirrorProblem(i);
  const outboundOnly = i.spec.mode === 'Outbound';
  // An Outbound intercept routes no request, so the port it names does not matter.
  const portCheck = g.workload && !outboundOnly ? resolvePort(ref, g.workload.spec.template, port) : undefined;

  // WorkloadFound
  if (g.workload) cond(CONDITION.workloadFound, 'True', 'Found', `${ref} found`);
  else cond(CONDITION.workloadFound, 'False', 'WorkloadNotFound', `${ref} does not exist in namespace ${ns} yet; the Intercept starts by itself when it appears`);

  const expired = expiresAt !== undefined && isExpired(i, now);
  if (expired) {
    phase = 'Expired';
    notRoutedReason = 'Expired';
    notRoutedMessage = `ttl ${i.spec.ttl} ran out at ${rfc3339(expiresAt)}; create a new Intercept (or raise spec.ttl) to route again`;
  } else if (g.policy && !g.policy.allowed) {
    phase = 'Failed';
    notRoutedReason = 'PolicyDenied';
    notRoutedMessage = `${g.policy.message}; matching requests go to the app`;
  } else if (regexProblem !== undefined) {
    phase = 'Failed';
    notRoutedReason = 'InvalidRegex';
    notRoutedMessage = `a regex does not compile in the sidecar's RE2 engine (${regexProblem.slice(0, 200)}): fix spec.match`;
  } else if (broadMirror !== undefined) {
    phase = 'Failed';
    notRoutedReason = 'BroadMirrorNotAllowed';
    notRoutedMessage = broadMirror;
  } else if (g.tokenSecretForeign) {
    phase = 'Failed';
    notRoutedReason = 'TokenSecretTaken';
    notRoutedMessage = `Secret ${tokenSecretName(i.metadata.name)} exists and is not managed by detour: delete or rename it`;
  } else if (!g.workload) {
    phase = 'Waiting';
    notRoutedReason = 'WorkloadNotFound';
    notRoutedMessage = `waiting for ${ref} to exist in namespace ${ns}`;
  } else if (portCheck && !portCheck.ok) {
    phase = 'Failed';
    notRoutedReason = portCheck.reason;
    notRoutedMessage = portCheck.message;
  } else if (g.conflictWith !== undefined) {
    phase = 'Conflict';
    notRoutedReason = 'Conflict';
    notRoutedMessage = (i.spec.fallback ?? 'App') === 'Reject' && g.conflictWithMode === 'Mirror'
      ? `the older Mirror intercept ${g.conflictWith} serves requests this one could match on ${ref} port ${port}, and fallback Reject would answer them 503 while no developer is connected: use fallback App, or make spec.match disjoint from it`
      : `the older Steal intercept ${g.conflictWith} can match the same requests on ${ref} port ${port} and keeps them: make spec.match disjoint from it (e.g. a different exact value of the same header) or delete one of them`;
  } else {
    phase = g.sidecars.ready > 0 ? 'Active' : 'Pending';
    optIn = !isOptedIn(g.workload);
  }

  const routed = notRoutedReason === undefined;
  const missing = routed && g.workload ? podsWithoutSidecar(g.pods) : [];
  // Pods whose sidecar idles for this port: said on the pod itself, routed or not (issue 18.2: a
  // numeric port without the opt-in; the Intercept's own reason says what to change).
  const idle = g.workload && phase !== 'Expired' && !i.metadata.deletionTimestamp ? podsNotTakingOver(g.pods, port) : [];
  const podEvents: Plan['podEvents'] = idle.map((pod) => ({
    pod,
    event: {
      type: 'Warning',
      reason: 'PortNotTakenOver',
      message: `The Detour sidecar does not take over port ${port} of this pod and passes its traffic straight to the app; Intercept ${interceptKey(i)} cannot route it: ${typeof port === 'number' ? `add ${port} to the annotation detour.dev/iptables of the pod template` : `name the container port ${port} (or list it in the annotation detour.dev/ports)`} and restart the pods`,
    },
  }));

  // SidecarsReady
  if (!routed || !g.workload) {
    cond(CONDITION.sidecarsReady, 'Unknown', notRoutedReason ?? 'NotRouted', 'not routed');
  } else if (optIn) {
    cond(CONDITION.sidecarsReady, 'False', 'OptingIn', `added label ${INJECT_LABEL}=true to the pod template of ${ref}; its pods restart once with the sidecar`);
  } else if (missing.length > 0) {
    const names = missing.slice(0, 5).map((p) => p.metadata.name).join(', ') + (missing.length > 5 ? `, and ${missing.length - 5} more` : '');
    cond(CONDITION.sidecarsReady, 'False', 'SidecarMissing', `${plural(missing.length, 'pod')} of ${ref} without the detour-sidecar container (${names}): created before the opt-in or while the webhook was unreachable; restart them (kubectl rollout restart) to inject the sidecar`);
  } else if (idle.length > 0) {
    const names = idle.slice(0, 5).map((p) => p.metadata.name).join(', ') + (idle.length > 5 ? `, and ${idle.length - 5} more` : '');
    cond(CONDITION.sidecarsReady, 'False', 'PortNotTakenOver', `${plural(idle.length, 'pod')} of ${ref} carry a sidecar that does not take over port ${port} and passes its traffic by (${names}): injected before the port was named or opted in; restart them (kubectl rollout restart)`);
  } else if (g.sidecars.ready < desired || desired === 0) {
    cond(CONDITION.sidecarsReady, 'False', 'SidecarsConnecting', `${g.sidecars.ready} of ${plural(desired, 'replica')} have a sidecar connected to the operator`);
  } else {
    cond(CONDITION.sidecarsReady, 'True', 'SidecarsConnected', `${plural(g.sidecars.ready, 'sidecar')} serve the routes`);
  }

  // Routed
  if (routed) cond(CONDITION.routed, 'True', 'Routed', g.sidecars.ready > 0 ? `routes served by ${plural(g.sidecars.ready, 'sidecar')}` : 'routes computed; no sidecar has them yet');
  else cond(CONDITION.routed, 'False', notRoutedReason!, notRoutedMessage);

  // ClientConnected
  const clients = routed ? g.sidecars.clients : 0;
  const fallback = i.spec.fallback ?? 'App';
  if (clients > 0) cond(CONDITION.clientConnected, 'True', 'Connected', `${plural(clients, 'developer connection')}`);
  else cond(CONDITION.clientConnected, 'False', 'NoClient', routed ? `no developer connected: matching requests ${fallback === 'App' ? 'go to the app' : 'get 503'} (fallback ${fallback}); run detour connect` : 'not routed');

  // ServicesReachSidecar: a Service that targets the app's port by number goes past the sidecar.
  if (g.services !== undefined && routed && g.workload && portCheck?.ok && typeof port === 'string' && portCheck.containerPort !== undefined) {
    const bypass = planServiceBypass(g.services, g.workload.spec.template, port, portCheck.containerPort);
    if (bypass.length === 0) {
      cond(CONDITION.servicesReachSidecar, 'True', 'TargetPortNamed', `every Service that selects the pods of ${ref} reaches port ${port} through the sidecar`);
    } else {
      const message = describeBypass(bypass, port, portCheck.containerPort, ref);
      cond(CONDITION.servicesReachSidecar, 'False', 'ServiceBypassesSidecar', message);
      const before = i.status?.conditions?.find((c) => c.type === CONDITION.servicesReachSidecar);
      if (before?.status !== 'False' || before.message !== message) events.push({ type: 'Warning', reason: 'ServiceBypassesSidecar', message: message.charAt(0).toUpperCase() + message.slice(1) });
    }
  }

  // SidecarsCurrent (issue 19.4): pods whose sidecar this operator cannot serve (operator/reconcile/sidecar-versions.ts).
  if (g.workload) {
    const v = planSidecarVersions(g.pods, DETOUR_VERSION, { kind: i.spec.workload.kind, namespace: ns ?? '', name: i.spec.workload.name });
    cond(SIDECARS_CURRENT, v.status, v.reason, v.message);
  }

  const status: InterceptStatus = {
    phase,
    operatorVersion: DETOUR_VERSION,
    observedGeneration: gen,
    conditions: mergeConditions(i.status?.conditions, conds, now),
    sidecars: { ready: routed ? g.sidecars.ready : 0, desired },
    clients,
    tokenSecretName: tokenSecretName(i.metadata.name),
  };
  if (gen === undefined) delete status.observedGeneration;
  if (g.policy?.allowed && g.policy.policy) status.allowedBy = g.policy.policy;
  const routedBefore = i.status?.conditions?.find((c) => c.type === CONDITION.routed);
  if (notRoutedReason === 'PolicyDenied' && (routedBefore?.reason !== 'PolicyDenied' || routedBefore.message !== notRoutedMessage)) {
    events.push({ type: 'Warning', reason: 'PolicyDenied', message: notRoutedMessage.charAt(0).toUpperCase() + notRoutedMessage.slice(1) });
  }
  if (expiresAt) status.expiresAt = rfc3339(expiresAt);

  const previousPhase = i.status?.phase;
  if (previousPhase !== phase) {
    const warn = phase === 'Failed' || phase === 'Conflict';
    const message = routed
      ? phase === 'Active'
        ? outboundOnly ? `Outbound access through the sidecars of ${ref} is ready (routes no requests)` : `Routing matching requests of ${ref} port ${port} to developers`
        : `Routes for ${ref} port ${port} computed; waiting for sidecars`
      : notRoutedMessage;
    events.push({ type: warn ? 'Warning' : 'Normal', reason: phase, message: message.charAt(0).toUpperCase() + message.slice(1) });
  }
  if (optIn) events.push({ type: 'Normal', reason: 'OptedIn', message: `Added label ${INJECT_LABEL}=true to the pod template of ${ref}; its pods restart once with the sidecar` });

  let route: Route | undefined;
  if (routed && g.tokenHash !== undefined) {
    route = {
      intercept: interceptKey(i),
      port,
      mode: i.spec.mode ?? 'Steal',
      fallback,
      ...(i.metadata.creationTimestamp ? { createdAt: i.metadata.creationTimestamp } : {}),
      ...(i.spec.match ? { match: buildRouteMatch(i.spec.match) } : {}),
      tokenHash: g.tokenHash,
      ...(expiresAt ? { expiresAt: rfc3339(expiresAt) } : {}),
    };
  }

  const addFinalizer = !i.metadata.deletionTimestamp && !(i.metadata.finalizers ?? []).includes(FINALIZER);
  const requeueAfterMs = expiresAt && !expired ? expiresAt.getTime() - now.getTime() : undefined;
  return { phase, addFinalizer, optIn, route, status, statusChanged: !sameStatus(i.status, status), events, podEvents, requeueAfterMs };
}

/** Deep equality of two statuses as JSON (key order independent). */
export function sameStatus(a: InterceptStatus | undefined, b: InterceptStatus): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b);
}
