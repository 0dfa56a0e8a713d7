# syntax=docker/dockerfile:1.7
# One image for every Detour component. The first argument names the component:
#   docker run ghcr.io/detour-dev/detour operator|webhook|sidecar|cli [args...]
# The chart runs `args: [operator]`, `args: [webhook]`; the webhook injects `args: [sidecar]`, and
# the opt-in iptables init container runs `/bin/sh -c <script>` (iptables is installed).
#
#   docker build -t ghcr.io/detour-dev/detour:0.1.0 .

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY operator ./operator
COPY webhook ./webhook
COPY sidecar ./sidecar
COPY cli ./cli
COPY cluster ./cluster
COPY test/fixtures ./test/fixtures
# tsconfig.build.json also compiles the local cluster and the test fixtures; they stay out of the image.
RUN npm run build \
 && rm -rf dist/cluster dist/test \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
# iptables (and its nft/legacy backends) for the opt-in init container; nothing else.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY <<'SH' /usr/local/bin/detour
#!/bin/sh
# Runs the Detour component named by the first argument.
set -e
component="${1:-}"
[ $# -gt 0 ] && shift
case "$component" in
  operator|webhook|sidecar|cli) exec node /app/dist/"$component"/main.js "$@" ;;
  *) echo "usage: detour operator|webhook|sidecar|cli [args...]" >&2; exit 64 ;;
esac
SH
RUN chmod 0755 /usr/local/bin/detour
# The uid every Detour container runs as (core/constants.ts DETOUR_UID); the sidecar's traffic is
# told apart by it in the iptables rules.
USER 65532:65532
EXPOSE 8080 8081 8082 9090 9443 15020 15021 15080
ENTRYPOINT ["/usr/local/bin/detour"]
