// Names shared by every deployable: API coordinates, labels, annotations, ports and env vars.
// Changing one of these is a compatibility change between operator, webhook, sidecar and CLI.

export const API_GROUP = 'detour.dev';
export const API_VERSION = 'v1alpha1';
export const INTERCEPT_KIND = 'Intercept';
export const INTERCEPT_PLURAL = 'intercepts';

/** Pod-template label that opts a workload in to injection (the webhook's objectSelector). */
export const INJECT_LABEL = 'detour.dev/inject';
/** Pod annotation that records what the webhook injected (JSON), making the patch idempotent. */
export const INJECTED_ANNOTATION = 'detour.dev/injected';
/** Pod annotation: opt in to the iptables init container for numeric ports. */
export const IPTABLES_ANNOTATION = 'detour.dev/iptables';
/**
 * Intercept annotation: `"true"` allows a broad Mirror (one that copies everyone's requests, see
 * operator/reconcile/broad-mirror.ts). Dangerous; documented in docs/api.md.
 */
export const ALLOW_BROAD_MIRROR_ANNOTATION = 'detour.dev/allow-broad-mirror';
/** Label on objects the operator manages (token Secrets). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'detour';
export const INTERCEPT_NAME_LABEL = 'detour.dev/intercept';
export const FINALIZER = 'detour.dev/routes';

export const SIDECAR_CONTAINER = 'detour-sidecar';
export const IPTABLES_INIT_CONTAINER = 'detour-iptables';
export const TOKEN_VOLUME = 'detour-token';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/detour.dev/serviceaccount';
export const TOKEN_AUDIENCE = 'detour';
/** Prefix given to an app port whose name the sidecar takes over (`http` → `dt-http`). */
export const RENAMED_PORT_PREFIX = 'dt-';

export const SIDECAR_ADMIN_PORT = 15020;
export const SIDECAR_TUNNEL_PORT = 15021;
/** The sidecar listens on FIRST, FIRST+1, … for each port it takes over. */
export const SIDECAR_PROXY_PORT_FIRST = 15080;
/** Fixed non-root uid of every Detour container. */
export const DETOUR_UID = 65532;

export const OPERATOR_CONTROL_PORT = 8081;
export const OPERATOR_METRICS_PORT = 8080;
export const OPERATOR_HEALTH_PORT = 8082;
export const WEBHOOK_PORT = 9443;
export const WEBHOOK_METRICS_PORT = 9090;

export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'detour-system'];
