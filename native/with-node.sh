#!/bin/sh
# Runs a command with Node.js 24 first on PATH and the project's dependencies installed.
#
# The project targets Node 24 LTS (OpenTelemetry JS 3.x needs >= 22.15). Where the system Node is
# older, the pinned NODE_VERSION from .env is installed from the npm registry (package
# node-<os>-<arch>) into the tool cache, so a fresh clone needs nothing but some Node and npm.
#
#   sh native/with-node.sh node --test ...
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/native/versions.sh"

node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }

if [ "$(node_major node)" -lt 24 ]; then
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "with-node: unsupported OS $(uname -s); install Node 24 yourself" >&2; exit 1 ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "with-node: unsupported CPU $(uname -m); install Node 24 yourself" >&2; exit 1 ;; esac
  prefix="$TOOLS_DIR/node-$NODE_VERSION"
  node_bin="$prefix/node_modules/node-$os-$arch/bin"
  if [ ! -x "$node_bin/node" ]; then
    echo "with-node: system Node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_VERSION from the npm registry into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-save --no-package-lock --loglevel=error "node-$os-$arch@$NODE_VERSION" >&2
  fi
  PATH="$node_bin:$PATH"
  export PATH
fi

# Install or refresh dependencies when the lock file is newer than the installed tree.
cd "$root"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "with-node: installing dependencies with npm ci" >&2
  if [ -f package-lock.json ]; then npm ci --loglevel=error >&2; else npm install --loglevel=error >&2; fi
fi

PATH="$root/node_modules/.bin:$PATH"
export PATH
exec "$@"
