// Pure: what went wrong, in words a developer can act on. Kubernetes API failures are explained by
// status code (naming the verb and resource that was refused); network failures name the server.

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** What the CLI was doing when a request failed. */
export interface ApiAction {
  verb: 'get' | 'list' | 'create' | 'delete' | 'patch' | 'update' | 'watch';
  /** `intercepts.detour.dev`, `deployments.apps`, `pods`, `secrets`, `pods/proxy`. */
  resource: string;
  namespace?: string;
  name?: string;
  /** The API server URL, for network errors. */
  server?: string;
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as StatusBody;
    return typeof parsed === 'object' && parsed !== null && parsed.kind === 'Status' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted self-signed certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted certificate',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not match the server name',
};

/** One sentence for a failed API request. */
export function explainKubeError(err: unknown, action: ApiAction): string {
  const where = action.namespace ? ` in namespace ${action.namespace}` : '';
  const what = action.name ? `${action.resource} "${action.name}"` : action.resource;
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e.code !== 'number') {
    const code = typeof e.code === 'string' ? e.code : undefined;
    const detail = (code && NETWORK_CODES[code]) ?? (typeof e.message === 'string' ? e.message.split('\n')[0] : String(err));
    return `cannot reach the Kubernetes API server${action.server ? ` at ${action.server}` : ''} (${detail}): is the cluster running, and are KUBECONFIG and --context right?`;
  }
  const status = parseStatus(e.body);
  const message = status?.message ? `: ${status.message}` : '';
  // An admission webhook's refusal (an InterceptPolicy, the creator stamp) says exactly what and
  // why: print it as the API server sent it, not as a missing RBAC permission.
  if (status?.message?.startsWith('admission webhook ')) return status.message;
  switch (e.code) {
    case 401:
      return `the cluster did not accept your credentials (401 Unauthorized): log in again or check the kubeconfig's user`;
    case 403:
      return `you are not allowed to ${action.verb} ${what}${where} (403 Forbidden)${message}. Ask your cluster admin for "${action.verb}" on "${action.resource}".`;
    case 404:
      if (!status) return `the cluster does not serve ${action.resource} (404)`;
      return `${what} not found${where}`;
    case 409:
      return `${what}${where} changed or already exists (409 Conflict)${message}`;
    case 422:
    case 400:
      return `the cluster refused the ${action.resource}${where} (${e.code} ${status?.reason ?? 'Invalid'})${message}`;
    case 429:
      return `the API server is throttling requests (429); try again in a moment`;
    default:
      return `${action.verb} ${what}${where} failed with HTTP ${e.code}${message}`;
  }
}

/** A request through the tunnel got 502 because the local server could not be reached: say why, once. */
export function explainLocalFailure(error: string | undefined, target: string): string | undefined {
  if (!error) return undefined;
  const host = new URL(target).host;
  if (/ECONNREFUSED/.test(error)) return `nothing is listening on ${host} (connection refused): start your local service there, or pass the right --to`;
  if (/ENOTFOUND|EAI_AGAIN/.test(error)) return `cannot resolve ${new URL(target).hostname}: check --to`;
  if (/ETIMEDOUT|EHOSTUNREACH/.test(error)) return `${host} does not answer (${error.replace(/^local server unreachable: /, '')})`;
  if (/ECONNRESET|socket hang up/.test(error)) return `${host} closed the connection before answering`;
  if (/local server unreachable/.test(error)) return `${host} unreachable: ${error.replace(/^local server unreachable: /, '')}`;
  return undefined;
}
