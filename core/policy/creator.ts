// Who created an Intercept, as admission recorded it (pure). The webhook writes the annotation on
// CREATE from AdmissionReview request.userInfo (whatever the request carried is overwritten) and
// refuses any UPDATE that changes it; the operator and the CLI read it.

export const CREATOR_ANNOTATION = 'detour.dev/creator';

export interface Creator {
  username: string;
  groups: string[];
}

const MAX_GROUPS = 64;

export function formatCreator(c: Creator): string {
  return JSON.stringify({ username: c.username, groups: c.groups.slice(0, MAX_GROUPS) });
}

/** The recorded creator, or undefined when the annotation is absent or not what admission writes. */
export function readCreator(annotations: Readonly<Record<string, string>> | undefined): Creator | undefined {
  const raw = annotations?.[CREATOR_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const { username, groups } = v as { username?: unknown; groups?: unknown };
    if (typeof username !== 'string' || username === '') return undefined;
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) return undefined;
    return { username, groups: groups as string[] };
  } catch {
    return undefined;
  }
}

const SA_PREFIX = 'system:serviceaccount:';

/** `system:serviceaccount:NS:NAME` → {namespace, name}; undefined for other usernames. */
export function serviceAccountOf(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(SA_PREFIX)) return undefined;
  const [namespace, name, ...rest] = username.slice(SA_PREFIX.length).split(':');
  return namespace && name && rest.length === 0 ? { namespace, name } : undefined;
}
