// Broad Mirror intercepts (pure). A Mirror copies every matching request, cookies and
// Authorization headers included, to one developer's laptop. When its match selects no particular
// client (core/routing/overlap.ts `isBroadMatch`: global, or no header, baggage, cookie or query rule with an exact or prefix
// value) that is everyone's traffic, so the operator refuses it (Failed, BroadMirrorNotAllowed)
// unless the Intercept carries the opt-in annotation. The CRD cannot refuse it: CEL validation of
// a custom resource sees only metadata.name and generateName, not annotations. Stopgap until
// policies decide who may mirror what.

import type { Intercept } from '../../core/api/intercept.js';
import { ALLOW_BROAD_MIRROR_ANNOTATION } from '../../core/constants.js';
import { isBroadMatch } from '../../core/routing/overlap.js';

/** Why this intercept may not be routed as a broad Mirror, or undefined when it may. */
export function broadMirrorProblem(i: Intercept): string | undefined {
  if ((i.spec.mode ?? 'Steal') !== 'Mirror' || !isBroadMatch(i.spec.match)) return undefined;
  if (i.metadata.annotations?.[ALLOW_BROAD_MIRROR_ANNOTATION] === 'true') return undefined;
  const what = i.spec.match === undefined ? 'it has no match (global)' : 'none of its header, baggage, cookie or query rules asks for an exact or prefix value';
  return `a Mirror copies every matching request, cookies and Authorization included, to the developer, and ${what}, so it would copy everyone's requests: add a header rule with exact or prefix (e.g. x-detour-user exact YOU), or, if copying all of them is really intended, annotate the Intercept ${ALLOW_BROAD_MIRROR_ANNOTATION}="true"`;
}
