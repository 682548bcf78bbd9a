#!/usr/bin/env bash
# The whole mission in one command: start the built-in API emulator with its demo clusters, then
# plan -> apply -> plan on examples/clusters/, first against the v1 API, then the same files
# against the v2 API. `make demo` runs this inside the project's virtualenv; `make demo API=v1`
# (or v2) runs one of them.
set -euo pipefail
cd "$(dirname "$0")/.."

workdir=$(mktemp -d)
emulator_pid=
cleanup() {
    [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
    rm -rf "$workdir"
}
trap cleanup EXIT

step() {
    if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\n\033[1m$ %s\033[0m\n' "$*"; else printf '\n$ %s\n' "$*"; fi
}

run_against() {
    local api=$1
    echo
    echo "=== the same files against the emulator of the $api API ==="
    rm -f "$workdir/url"
    reconciler emulator --api "$api" --port 0 --busy-seconds 2 --quiet --url-file "$workdir/url" &
    emulator_pid=$!
    for _ in $(seq 100); do [ -s "$workdir/url" ] && break; sleep 0.1; done
    [ -s "$workdir/url" ] || { echo "the emulator did not start" >&2; exit 1; }

    export IONOS_API_URL RECONCILER_API=$api
    IONOS_API_URL=$(cat "$workdir/url")
    export IONOS_TOKEN=demo-token   # the emulator accepts any token unless told otherwise

    step reconciler plan examples/clusters
    reconciler plan examples/clusters

    step reconciler apply --auto-approve examples/clusters
    reconciler apply --auto-approve examples/clusters

    step reconciler plan --detailed-exitcode examples/clusters
    reconciler plan --detailed-exitcode examples/clusters
    echo
    echo "$api done: the second plan found nothing left to change (exit 0)."
    if kill "$emulator_pid" 2>/dev/null; then wait "$emulator_pid" 2>/dev/null || true; fi
    emulator_pid=
}

for api in ${API:-v1 v2}; do
    run_against "$api"
done
