#!/usr/bin/env bash
# Builds the local control plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy, kubectl, helm) from the Go module proxy and caches them outside the
# repository, keyed by the modules' go.mod/go.sum and the Go version. A warm cache makes this a no-op.
#
# Prints the cache's bin directory as its last line of output.
#   DETOUR_CACHE_DIR   where the cache lives (default: ${XDG_CACHE_HOME:-$HOME/.cache}/detour)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_version=v1.34.12
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl helm)

if ! command -v go >/dev/null 2>&1; then
  echo "detour: Go is needed to build the local control plane (https://go.dev/dl), or set KUBEBUILDER_ASSETS to a folder with the binaries." >&2
  exit 1
fi

cache_root=${DETOUR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/detour}
key=$( { cat "$here/k8s/go.mod" "$here/k8s/go.sum" "$here/helm/go.mod" "$here/helm/go.sum"; \
         echo "$k8s_version"; go version; } | sha256sum | cut -c1-16)
bin="$cache_root/controlplane/$key/bin"

complete() {
  local b
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
}

if complete; then
  echo "Control plane binaries are cached in $bin" >&2
  echo "$bin"
  exit 0
fi

mkdir -p "$cache_root/controlplane"
exec 9>"$cache_root/controlplane/.build.lock"
if ! flock -n 9; then
  echo "Waiting for another build of the control plane binaries to finish..." >&2
  flock 9
  if complete; then echo "$bin"; exit 0; fi
fi

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
start=$(date +%s)
elapsed() { local s=$(( $(date +%s) - start )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# Prints a progress line every 50 compiled packages, so a cold build (15-25 minutes) shows life.
progress() {
  local n=0 line
  while IFS= read -r line; do
    case "$line" in
      "#"*|*.go:*|go:*) echo "    $line" >&2 ;;
      *) n=$((n + 1)); if (( n % 50 == 0 )); then echo "    ... $n packages compiled ($(elapsed))" >&2; fi ;;
    esac
  done
}

echo "Building the local control plane ($k8s_version) into $bin" >&2
echo "A cold build downloads ~1 GB of modules and takes 15-25 minutes on 2 cores; later runs reuse it." >&2
tmp="$cache_root/controlplane/$key.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"

echo "[0/${#binaries[@]}] Downloading Go modules ($(elapsed))" >&2
(cd "$here/k8s" && go mod download) >&2
(cd "$here/helm" && go mod download) >&2

ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  minor=${k8s_version#v1.}; minor=${minor%%.*}
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

i=0
for b in "${binaries[@]}"; do
  i=$((i + 1))
  case "$b" in
    etcd) dir=k8s; pkg=go.etcd.io/etcd/server/v3 ;;
    helm) dir=helm; pkg=helm.sh/helm/v3/cmd/helm ;;
    *) dir=k8s; pkg=k8s.io/kubernetes/cmd/$b ;;
  esac
  echo "[$i/${#binaries[@]}] Building $b ($(elapsed))" >&2
  (cd "$here/$dir" && go build -v -trimpath -ldflags "$ldflags" -o "$tmp/$b" "$pkg") 2>&1 | progress
  [ -x "$tmp/$b" ] || { echo "detour: building $b failed" >&2; exit 1; }
done

rm -rf "$bin"
mkdir -p "$(dirname "$bin")"
mv "$tmp" "$bin"
echo "Built the control plane binaries in $(elapsed); cached in $bin" >&2
echo "$bin"
