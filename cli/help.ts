// Help texts, one per command, each with examples. Pure data.

export const COMMANDS = ['intercept', 'run', 'connect', 'list', 'status', 'leave', 'env', 'policy', 'version'] as const;
export type CommandName = (typeof COMMANDS)[number];

const GLOBAL = `Cluster options (like kubectl):
  -n, --namespace NS     namespace (default: the context's namespace, else "default")
      --context CTX      kubeconfig context to use (default: the current context)
      --kubeconfig PATH  kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  -h, --help             show this help`;

export const MAIN_HELP = `detour — send your requests from a shared Kubernetes cluster to your laptop

Usage:
  detour COMMAND [options]        (also: kubectl detour COMMAND ...)

Commands:
  intercept WORKLOAD  create an Intercept and serve its requests from a local port
  connect NAME        serve an existing Intercept (created with kubectl or GitOps) from a local port
  list                list the Intercepts in a namespace
  status NAME         show an Intercept's phase, conditions and recent events
  leave NAME          delete an Intercept (its requests go back to the cluster at once)
  env WORKLOAD        print a workload's environment, to run the same service locally
  run WORKLOAD -- CMD run CMD with the workload's environment, files and cluster network
  policy check WORKLOAD  what the InterceptPolicies would allow (a server-side dry run)
  version             the CLI's version, the operator's and the sidecars' (skew policy)

Examples:
  detour intercept checkout --header x-detour-user=alice --to localhost:3000
  detour list -n shop
  detour env checkout --format dotenv > .env

Run "detour COMMAND --help" for a command's options.

${GLOBAL}`;

export const HELP: Record<CommandName, string> = {
  intercept: `detour intercept — create (or adopt) an Intercept and serve its requests from a local port

Usage:
  detour intercept WORKLOAD --to [HOST:]PORT [--header NAME=VALUE ...] [options]

WORKLOAD is a Deployment name, or KIND/NAME with KIND deployment, statefulset or replicaset.

The command opts the workload in to the Detour sidecar when needed (one rollout), waits for the
sidecars, opens a tunnel to every ready replica (and follows replicas as they come and go), and
prints every request it serves. Ctrl-C deletes the Intercept it created and restores the
cluster's behaviour at once.

Options:
      --to [HOST:]PORT      the local service (required), e.g. localhost:3000 or 3000
      --header RULE         only requests with this header come to you; repeatable, all must hold:
                              NAME=VALUE   exact value      x-detour-user=alice
                              NAME^=PREFIX value prefix     x-tenant^=test-
                              NAME~=REGEX  whole value matches the regular expression
      --baggage RULE        the same for a member of the W3C baggage header (KEY=VALUE, KEY^=PREFIX,
                            KEY~=REGEX; the value compared percent-decoded). Services instrumented
                            with OpenTelemetry pass baggage on, so the key reaches deep services
      --cookie RULE         the same for a cookie (NAME=VALUE, ...; compared as sent): set it in a
                            browser and test a web page without adding headers
      --query RULE          the same for a query parameter (NAME=VALUE, ...; its first value, decoded)
                            without any rule and --path-prefix every request comes to you
      --path-prefix PATH    only requests whose path starts with PATH
      --port NAME|NUMBER    the container port the Service targets (default: http)
      --mode steal|mirror   steal: matching requests are answered by you (default);
                            mirror: you get a copy, the cluster still answers
      --ttl DURATION        the Intercept expires after this long (e.g. 2h, 90m)
      --name NAME           the Intercept's name (default: FIRSTVALUE-WORKLOAD)
      --owner TEXT          shown in "detour list" (default: your Kubernetes username, from a
                            SelfSubjectReview; else the kubeconfig's user name)
      --keep                keep the Intercept when you stop (join it later with "detour connect")
      --via URL             reach the sidecars at this tunnel URL instead of through the Kubernetes
                            API; {podIP}, {pod} and {port} are filled in per replica, e.g.
                            ws://{podIP}:{port}/tunnel
      --timeout DURATION    how long to wait for the sidecars to be ready (default: 3m)
      --drain-timeout DURATION
                            on Ctrl-C, how long requests already on their way to you may take
                            to finish (default: 10s; new ones reach the cluster at once; 0: close at once)
  -- COMMAND [ARGS]         run COMMAND as "detour run" does (env, files, cluster network) and
                            end the intercept when it exits; --forward, --socks-port,
                            --http-proxy-port and --no-by-name as for "detour run"

Examples:
  # Requests with "x-detour-user: alice" reach localhost:3000; all others stay in the cluster.
  detour intercept checkout -n shop --header x-detour-user=alice --to localhost:3000

  # Only /api requests of tenant test-*, for two hours, kept when you stop.
  detour intercept deploy/checkout --header x-tenant^=test- --path-prefix /api --ttl 2h --keep --to 8080

  # Requests whose OpenTelemetry baggage carries detour-user=alice, however deep backend sits.
  detour intercept backend --baggage detour-user=alice --to 3000

  # A browser with the cookie detour-user=alice (document.cookie = "detour-user=alice; path=/").
  detour intercept frontend --cookie detour-user=alice --to 3000

  # Watch a copy of live traffic without answering it.
  detour intercept statefulset/orders --mode mirror --header x-debug=1 --to 3000

${GLOBAL}`,

  run: `detour run — run a local command with a workload's environment, files and cluster network

Usage:
  detour run WORKLOAD [options] -- COMMAND [ARGS]

COMMAND gets the container's environment (as "detour env" resolves it), the files of its
ConfigMap, Secret, downwardAPI and projected volumes under a private folder (DETOUR_ROOT; each
volume at its mountPath below it; Secret files mode 0600; removed when COMMAND exits), and the
cluster's network through the workload's Detour sidecar: ALL_PROXY (SOCKS5, names resolved in the
cluster) and HTTP_PROXY/HTTPS_PROXY point at local proxies, and on Linux the namespace's Services
resolve by name (/etc/hosts in a private mount namespace maps them to 127.77.x.y, where detour
listens). The exit code is COMMAND's. No request is routed to you: the credential is an Intercept
with mode Outbound, created for the run and deleted after it (shown by "kubectl get intercepts").

Options:
  -c, --container NAME          the container (default: the first that is not Detour's)
      --forward [LPORT:]HOST:PORT  listen on 127.0.0.1:LPORT (default PORT) and connect each
                                connection to HOST:PORT in the cluster (like ssh -L); repeatable
      --socks-port PORT         the SOCKS5 proxy's port (default: a free one)
      --http-proxy-port PORT    the HTTP proxy's port (default: a free one)
      --no-by-name              do not set up the by-name path (proxies and forwards only)
      --ttl DURATION            the Intercept expires after this long
      --owner TEXT              shown in "detour list" (default: your user name)
      --keep                    keep the Intercept when the command exits
      --timeout DURATION        how long to wait for the sidecars (default: 3m)

Examples:
  detour run checkout -n shop -- redis-cli -h redis ping
  detour run checkout -n shop --forward 5432:postgres.db:5432 -- npm start
  detour run checkout -n shop -- sh -c 'cat $DETOUR_ROOT/etc/app/config.yaml'

${GLOBAL}`,

  connect: `detour connect — serve an existing Intercept from a local port

Usage:
  detour connect NAME --to [HOST:]PORT [--via URL] [--drain-timeout DURATION]

For an Intercept created with kubectl, GitOps, or "detour intercept --keep". Reads its token
Secret (you need permission to get it), opens a tunnel to every ready replica and prints every
request. Stopping leaves the Intercept in place.

Options:
      --to [HOST:]PORT      the local service (required)
      --via URL             tunnel URL instead of the Kubernetes API (see "detour intercept --help")
      --drain-timeout DURATION
                            on Ctrl-C, how long requests in flight may take to finish (default: 10s)

Examples:
  kubectl apply -f alice-checkout.yaml
  detour connect alice-checkout -n shop --to localhost:3000

${GLOBAL}`,

  list: `detour list — list Intercepts

Usage:
  detour list [-A] [-o table|wide|json|yaml]

Shows each Intercept's workload, match, mode, owner, phase, the developers connected (clients)
and age; -o wide adds fallback, sidecars (ready/desired) and expiry ("never" without a ttl).

Options:
  -A, --all-namespaces      list Intercepts in every namespace
  -o, --output FORMAT       table (default), wide, json or yaml

Examples:
  detour list -n shop
  detour list -A -o json

${GLOBAL}`,

  status: `detour status — an Intercept's phase, conditions and recent events

Usage:
  detour status NAME

Examples:
  detour status alice-checkout -n shop

${GLOBAL}`,

  leave: `detour leave — delete an Intercept

Usage:
  detour leave NAME

Matching requests go back to the cluster at once; connected developers are disconnected.

Examples:
  detour leave alice-checkout -n shop

${GLOBAL}`,

  policy: `detour policy check — what the InterceptPolicies would allow, before trying

Usage:
  detour policy check WORKLOAD [--header NAME=VALUE ...] [--mode steal|mirror|outbound] [--ttl D] [options]

Asks the cluster to admit the Intercept that "detour intercept" would create with the same flags,
as a server-side dry run (nothing is created): prints the policy that allows it (and the ttl or
owner admission would give it), or the refusal exactly as admission words it, naming the policy
and the rule. Exit code 0 when allowed, 1 when refused.

Options:
      --header, --baggage, --cookie, --query RULE, --path-prefix PATH, --port PORT, --mode MODE,
      --ttl DURATION        as for detour intercept
`,
  env: `detour env — print a workload's environment, to run the same service locally

Usage:
  detour env WORKLOAD [-c CONTAINER] [--format dotenv|json|shell]

Resolves the container's env and envFrom: literal values, ConfigMap and Secret references (those
you may read), and field references (from a running pod). Values that cannot be resolved are
listed as comments (dotenv, shell) or under "unresolved" (json).

Options:
  -c, --container NAME      the container (default: the first container that is not Detour's)
      --format FORMAT       dotenv (default), json, or shell (export lines)

Examples:
  detour env checkout -n shop > .env
  eval "$(detour env checkout -n shop --format shell)" && npm start

${GLOBAL}`,
  version: `detour version — the CLI's version, and the operator's and the sidecars' in the cluster

Usage:
  detour version [--client] [-n NS]

Prints the CLI's version. With a reachable cluster (unless --client) also the operator's version
(from the status it writes on the Intercepts of the namespace) and, per workload an Intercept of
the namespace targets, the version of each pod's sidecar (from the pod's injection record), with
what to upgrade when a pair is outside the skew policy: the operator and the CLI of release N
work with sidecars of N and N−1 (docs/install.md "Upgrading"). "detour --version" prints the
CLI's version only.

Options:
      --client              do not contact the cluster

Examples:
  detour version -n shop
  detour version --client

${GLOBAL}`,
};
