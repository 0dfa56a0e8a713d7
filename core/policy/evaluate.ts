// Policy evaluation (pure), shared by the admission webhook and the operator. With no policy that
// selects the workload, everything is allowed (Detour before policies). Once one selects it, an
// Intercept is allowed only when some selecting policy that names its creator allows every part
// of it; otherwise the verdict names the policy and the rule that refused it.

import { RE2JS } from 're2js';
import { parseDuration } from '../api/duration.js';
import type { InterceptSpec } from '../api/intercept.js';
import type { InterceptMode } from '../routing/table.js';
import type { WorkloadKind } from '../workload-ref.js';
import type { Creator } from './creator.js';
import { matchGlob } from './glob.js';
import { matchLabelSelector } from './selector.js';
import { CLUSTER_INTERCEPT_POLICY_KIND, describePolicy, type PolicyObject, type PolicySubjects } from './types.js';

export const DEFAULT_ALLOWED_MODES: readonly InterceptMode[] = ['Steal', 'Mirror'];

export interface PolicyInput {
  namespace: string;
  spec: InterceptSpec & { connectors?: unknown[] };
  /** Undefined: the Intercept predates recorded creators (then no policy can name it). */
  creator: Creator | undefined;
  workload: { kind: WorkloadKind; name: string; labels?: Record<string, string> };
  namespaceLabels?: Record<string, string>;
  /** InterceptPolicies (any namespace; others are ignored) and ClusterInterceptPolicies. */
  policies: readonly PolicyObject[];
}

export type PolicyVerdict =
  | { allowed: true; /** `Kind [ns/]name` of the policy that allowed it; undefined: no policy selects the workload. */ policy?: string }
  | { allowed: false; /** the policy that refused, when one did */ policy?: string; rule: string; message: string };

/** Policies that select the workload, namespaced ones first, each kind by name (a stable order). */
export function selectPolicies(input: Pick<PolicyInput, 'namespace' | 'workload' | 'namespaceLabels' | 'policies'>): PolicyObject[] {
  const selected = input.policies.filter((p) => {
    if (p.kind === CLUSTER_INTERCEPT_POLICY_KIND) {
      if (!matchLabelSelector(p.spec.namespaceSelector, input.namespaceLabels)) return false;
    } else if (p.metadata.namespace !== input.namespace) return false;
    const w = p.spec.workloads;
    if (w?.kinds?.length && !w.kinds.includes(input.workload.kind)) return false;
    if (w?.names?.length && !w.names.some((g) => matchGlob(g, input.workload.name))) return false;
    return matchLabelSelector(w?.selector, input.workload.labels);
  });
  const rank = (p: PolicyObject) => (p.kind === CLUSTER_INTERCEPT_POLICY_KIND ? 1 : 0);
  return selected.sort((a, b) => rank(a) - rank(b) || a.metadata.name.localeCompare(b.metadata.name));
}

export function matchSubjects(s: PolicySubjects, c: Creator): boolean {
  if (s.users?.includes(c.username)) return true;
  if (s.groups?.some((g) => c.groups.includes(g))) return true;
  return (s.serviceAccounts ?? []).some((sa) => c.username === `system:serviceaccount:${sa.namespace}:${sa.name}`);
}

/** The ttl an Intercept without one gets at admission: the first applicable policy's defaultTtl. */
export function planDefaultTtl(input: PolicyInput): string | undefined {
  if (input.spec.ttl || !input.creator) return undefined;
  const creator = input.creator;
  return selectPolicies(input).find((p) => matchSubjects(p.spec.subjects, creator) && p.spec.defaultTtl)?.spec.defaultTtl;
}

type RuleResult = { rule: string; message: string } | undefined;

function fullMatch(pattern: string, value: string): boolean {
  try {
    return RE2JS.compile(pattern).matches(value);
  } catch {
    return false; // the CRD checks the pattern with RE2; one re2js refuses allows nothing
  }
}

/** The first rule of one policy the Intercept breaks, or undefined when the policy allows it. */
export function checkPolicy(p: PolicyObject, spec: PolicyInput['spec'], creator: Creator): RuleResult {
  const s = p.spec;
  const mode = spec.mode ?? 'Steal';
  const modes = s.modes ?? DEFAULT_ALLOWED_MODES;
  if (!modes.includes(mode)) return { rule: 'modes', message: `mode ${mode} is not allowed (allowed: ${modes.join(', ') || 'none'})` };
  if (mode === 'Outbound' && s.outbound?.allowed !== true) return { rule: 'outbound.allowed', message: 'outbound access (mode Outbound, detour run) is not allowed' };
  if (mode !== 'Outbound') {
    if (!spec.match && s.allowGlobal !== true) return { rule: 'allowGlobal', message: 'a global intercept (no match) is not allowed: add a header rule' };
    for (const [n, rq] of (s.requiredHeaders ?? []).entries()) {
      const rules = (spec.match?.headers ?? []).filter((h) => h.name.toLowerCase() === rq.name.toLowerCase());
      const what = `requiredHeaders[${n}]`;
      if (rq.valueEqualsCreator) {
        if (!rules.some((h) => h.exact === creator.username)) return { rule: what, message: `the intercept must match header ${rq.name} with exact value "${creator.username}" (the creator's username)` };
      } else if (rq.valueRegex !== undefined) {
        if (!rules.some((h) => { const v = h.exact ?? h.prefix; return v !== undefined && fullMatch(rq.valueRegex!, v); })) {
          return { rule: what, message: `the intercept must match header ${rq.name} with an exact or prefix value that matches ${rq.valueRegex}` };
        }
      } else if (rules.length === 0) return { rule: what, message: `the intercept must match header ${rq.name}` };
    }
  }
  if (s.maxTtl !== undefined) {
    const max = parseDuration(s.maxTtl);
    const ttl = spec.ttl ?? s.defaultTtl;
    if (ttl === undefined) return { rule: 'maxTtl', message: `the intercept needs a ttl of at most ${s.maxTtl}` };
    const ms = parseDuration(ttl);
    if (max === undefined || ms === undefined || ms > max) return { rule: 'maxTtl', message: `ttl ${ttl} is longer than the maximum ${s.maxTtl}` };
  }
  if ((spec.connectors?.length ?? 0) > 0 && s.allowConnectors !== true) return { rule: 'allowConnectors', message: 'spec.connectors may not name other people' };
  return undefined;
}

export function evaluatePolicies(input: PolicyInput): PolicyVerdict {
  const selected = selectPolicies(input);
  if (selected.length === 0) return { allowed: true };
  const workload = `${input.workload.kind}/${input.workload.name}`;
  const creator = input.creator;
  if (!creator) {
    const policy = describePolicy(selected[0]!);
    return { allowed: false, policy, rule: 'subjects', message: `denied by ${policy} (rule subjects): it selects ${workload}, and this Intercept has no recorded creator (created before admission recorded creators): re-create it` };
  }
  const applicable = selected.filter((p) => matchSubjects(p.spec.subjects, creator));
  if (applicable.length === 0) {
    const names = selected.map(describePolicy);
    const others = names.length > 1 ? ` (as do ${names.slice(1).join(', ')})` : '';
    return { allowed: false, policy: names[0]!, rule: 'subjects', message: `denied by ${names[0]} (rule subjects): it selects ${workload}${others} and names other subjects; no policy allows ${creator.username} to intercept it` };
  }
  let first: { policy: string; rule: string; message: string } | undefined;
  for (const p of applicable) {
    const broken = checkPolicy(p, input.spec, creator);
    if (!broken) return { allowed: true, policy: describePolicy(p) };
    first ??= { policy: describePolicy(p), ...broken };
  }
  const more = applicable.length - 1;
  return {
    allowed: false,
    policy: first!.policy,
    rule: first!.rule,
    message: `denied by ${first!.policy} (rule ${first!.rule}): ${first!.message}${more > 0 ? ` (and ${more} other ${more === 1 ? 'policy' : 'policies'} for ${creator.username} refuse it too)` : ''}`,
  };
}
