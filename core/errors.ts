// Classification of Kubernetes API errors by status code, as the house style asks:
// 404 gone, 409 retry, 410 relist, 422 terminal, 429/5xx back off.

export type ApiErrorClass = 'not-found' | 'conflict' | 'expired' | 'invalid' | 'forbidden' | 'throttled' | 'server' | 'network' | 'other';

/** The HTTP status of a client-node ApiException or a fetch error, if any. */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.response?.statusCode === 'number') return e.response.statusCode;
  }
  return undefined;
}

export function classifyApiError(err: unknown): ApiErrorClass {
  const code = statusCodeOf(err);
  if (code === undefined) return 'network';
  if (code === 404) return 'not-found';
  if (code === 409) return 'conflict';
  if (code === 410) return 'expired';
  if (code === 422 || code === 400) return 'invalid';
  if (code === 401 || code === 403) return 'forbidden';
  if (code === 429) return 'throttled';
  if (code >= 500) return 'server';
  return 'other';
}

/** The API's `reason` field of an error body, without the rest of the body (which may embed secrets). */
export function reasonOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null) {
    const body = (err as { body?: unknown }).body;
    const parsed = typeof body === 'string' ? safeJson(body) : body;
    if (typeof parsed === 'object' && parsed !== null) {
      const reason = (parsed as { reason?: unknown }).reason;
      if (typeof reason === 'string') return reason;
    }
  }
  return undefined;
}

/** A short message safe to log: code and reason, never a response body or headers. */
export function describeApiError(err: unknown): { code: number | undefined; reason: string } {
  const code = statusCodeOf(err);
  const reason = reasonOf(err) ?? (code === undefined && err instanceof Error ? err.message.split('\n')[0]!.slice(0, 200) : classifyApiError(err));
  return { code, reason };
}

function safeJson(s: string): unknown {
  try { return JSON.parse(s); } catch { return undefined; }
}
