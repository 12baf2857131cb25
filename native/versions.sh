# Sourced by the native scripts: the pinned versions from .env and the tool cache location.
# The cache lives outside the clone so that CI's fresh clones reuse the Go builds and Node.
root=${root:-$(cd "$(dirname "$0")/.." && pwd)}
set -a
. "$root/.env"
set +a
TOOLS_DIR=${TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spike-to-trace}
export TOOLS_DIR
