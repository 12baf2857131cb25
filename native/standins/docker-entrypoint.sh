#!/bin/sh
# The node image's entrypoint convention: arguments that are not a command (a flag such as -e, or a
# script file) are run by node; anything else is executed as it is.
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" 2>/dev/null)" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi
exec "$@"
