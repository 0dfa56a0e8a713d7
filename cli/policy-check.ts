// `detour policy check`: what the InterceptPolicies would allow, asked of the cluster itself. The
// CLI builds the Intercept `detour intercept` would create with the same flags and creates it as a
// server-side dry run (dryRun=All): admission stamps, defaults and judges it exactly as it would
// a real one, and nothing is stored. The answer is the admitted object or the refusal message.

import type { Intercept } from '../core/api/intercept.js';
import { API_GROUP, API_VERSION, INTERCEPT_PLURAL } from '../core/constants.js';
import { formatWorkload } from '../core/workload-ref.js';
import type { PolicyCheckCommand } from './args.js';
import { CliError } from './errors.js';
import { resourcePath, type Kube } from './kube.js';
import { buildIntercept, describeMatch } from './spec.js';

/** Written by the webhook on admission (webhook/intercept-admission.ts ADMITTED_BY_ANNOTATION). */
const ADMITTED_BY = 'detour.dev/admitted-by';

/** What a developer reads after an allowed dry run (pure). */
export function describeAllowed(admitted: Intercept, asked: { ttl?: string }): string[] {
  const w = formatWorkload(admitted.spec.workload);
  const by = admitted.metadata.annotations?.[ADMITTED_BY];
  const lines = [by ? `Allowed by ${by}: ${w}, ${describeMatch(admitted.spec.match)}, mode ${admitted.spec.mode ?? 'Steal'}` : `Allowed: no InterceptPolicy selects ${w} (anyone who may create Intercepts here may intercept it)`];
  if (admitted.spec.ttl && admitted.spec.ttl !== asked.ttl) lines.push(`  ttl ${admitted.spec.ttl} (the policy's default)`);
  if (admitted.spec.owner) lines.push(`  owner ${admitted.spec.owner}`);
  return lines;
}

export async function runPolicyCheck(kube: Kube, cmd: PolicyCheckCommand, io: { print(text: string): void }): Promise<number> {
  const ns = kube.namespace;
  const body = buildIntercept({
    name: 'policy-check', namespace: ns, workload: cmd.workload, port: cmd.port, headers: cmd.headers, baggage: cmd.baggage, cookies: cmd.cookies, query: cmd.query, mode: cmd.mode,
    ...(cmd.pathPrefix ? { pathPrefix: cmd.pathPrefix } : {}), ...(cmd.ttl ? { ttl: cmd.ttl } : {}),
  });
  // generateName: never collides with an existing Intercept.
  const { name: _n, ...metadata } = body.metadata;
  const path = resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL, ns);
  let admitted: Intercept;
  try {
    admitted = await kube.call<Intercept>({ verb: 'create', resource: 'intercepts.detour.dev', namespace: ns }, 'POST', path, {
      body: { ...body, metadata: { ...metadata, generateName: 'policy-check-' } }, query: { dryRun: 'All', fieldValidation: 'Strict' },
    });
  } catch (err) {
    if (err instanceof CliError && /admission webhook/.test(err.message)) {
      io.print(`Refused: ${err.message}`);
      return 1;
    }
    throw err;
  }
  io.print(describeAllowed(admitted, cmd).join('\n'));
  return 0;
}
