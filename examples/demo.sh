#!/usr/bin/env bash
# The whole mission in one command: start the built-in API emulator with its demo clusters, then
# plan -> apply -> plan on examples/clusters/. `make demo` runs this inside the project's virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

workdir=$(mktemp -d)
cleanup() {
    [ -n "${emulator_pid:-}" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
    rm -rf "$workdir"
}
trap cleanup EXIT

reconciler emulator --port 0 --busy-seconds 2 --quiet --url-file "$workdir/url" &
emulator_pid=$!
for _ in $(seq 100); do [ -s "$workdir/url" ] && break; sleep 0.1; done
[ -s "$workdir/url" ] || { echo "the emulator did not start" >&2; exit 1; }

export IONOS_API_URL
IONOS_API_URL=$(cat "$workdir/url")
export IONOS_TOKEN=demo-token   # the emulator accepts any token unless told otherwise

step() {
    if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\n\033[1m$ %s\033[0m\n' "$*"; else printf '\n$ %s\n' "$*"; fi
}

step reconciler plan examples/clusters
reconciler plan examples/clusters

step reconciler apply --auto-approve examples/clusters
reconciler apply --auto-approve examples/clusters

step reconciler plan --detailed-exitcode examples/clusters
reconciler plan --detailed-exitcode examples/clusters
echo
echo "Demo done: the second plan found nothing left to change (exit 0)."
