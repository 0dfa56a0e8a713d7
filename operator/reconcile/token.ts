// The token credential reconciler: every Intercept has a Secret `<name>-detour-token` it owns,
// holding a random tunnel token; routes carry only the token's SHA-256. Gather (the Secret, from the
// cache or read when the cache has not seen it yet) → planToken (pure) → ensureToken (mint it).

import { randomBytes } from 'node:crypto';
import { API_GROUP, API_VERSION, INTERCEPT_NAME_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../core/constants.js';
import { interceptKey, tokenSecretName, TOKEN_SECRET_KEY, type Intercept, type ObjectMeta } from '../../core/api/intercept.js';
import type { Logger } from '../../core/logging.js';
import { hashToken } from '../../core/tunnel/protocol.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import type { EventRecorder } from '../events.js';
import { ignoreNotFound } from './api-calls.js';

export interface Secret {
  metadata: ObjectMeta;
  data?: Record<string, string>;
}

export type TokenPlan =
  /** The Secret is ours and holds a token. */
  | { action: 'keep'; tokenHash: string }
  /** Create the Secret with a new token; `replace`: delete the managed Secret left by an earlier Intercept of the same name first. */
  | { action: 'mint'; replace: boolean }
  /** A Secret of that name exists and is not managed by Detour: never touched (the Intercept is Failed/TokenSecretTaken). */
  | { action: 'foreign' };

export function planToken(i: Intercept, secret: Secret | undefined): TokenPlan {
  if (!secret) return { action: 'mint', replace: false };
  if (secret.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return { action: 'foreign' };
  const ours = (secret.metadata.ownerReferences ?? []).some((r) => r.uid === i.metadata.uid);
  const token = ours ? secret.data?.[TOKEN_SECRET_KEY] : undefined;
  if (token) return { action: 'keep', tokenHash: hashToken(Buffer.from(token, 'base64').toString('utf8')) };
  return { action: 'mint', replace: !ours };
}

/** What the route + status reconciler reads of the token. */
export interface TokenState {
  /** Lower-case hex SHA-256 of the token; undefined when the Secret is foreign. */
  tokenHash?: string;
  foreign: boolean;
}

export interface TokenDeps {
  client: KubeClient;
  record: EventRecorder;
  logger: Logger;
}

/** Acts on the plan: mints (and stores) a token when there is none. */
export async function ensureToken(d: TokenDeps, i: Intercept, plan: TokenPlan): Promise<TokenState> {
  if (plan.action === 'keep') return { tokenHash: plan.tokenHash, foreign: false };
  if (plan.action === 'foreign') return { foreign: true };
  const ns = i.metadata.namespace;
  const name = i.metadata.name;
  const secretName = tokenSecretName(name);
  if (plan.replace) await ignoreNotFound(d.client.request('DELETE', resourcePath('', 'v1', 'secrets', ns, secretName)));
  const minted = randomBytes(32).toString('base64url');
  await d.client.request('POST', resourcePath('', 'v1', 'secrets', ns), {
    body: {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: secretName,
        namespace: ns,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [INTERCEPT_NAME_LABEL]: name },
        ownerReferences: [{ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Intercept', name, uid: i.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      data: { [TOKEN_SECRET_KEY]: Buffer.from(minted).toString('base64') },
    },
  });
  d.logger.info({ intercept: interceptKey(i), secretName: `${ns}/${secretName}` }, 'Minted a tunnel token');
  await d.record(i, { type: 'Normal', reason: 'TokenMinted', message: `Stored a new tunnel token in Secret ${secretName}` });
  return { tokenHash: hashToken(minted), foreign: false };
}
