#!/usr/bin/env bash
# A fleet-wide rollout, end to end, against the built-in API emulator (docs/rollouts.md):
# adopt a generated fleet with `reconciler import`, change every file at once, and apply the
# change in waves with a health gate. Two changes on the same fleet:
#   1. session -> transaction pooling everywhere: canaries, then waves, each checked; all goes.
#   2. the pooler enabled everywhere: the health check fails after wave 1, so the rollout stops
#      (exit 1, every cluster not reached "not sent"); once the cause is fixed, the very same
#      apply finishes the job.
# Needs `reconciler` with its emulator (inside the project's virtualenv, or after
# pip install '.[emulator]') and python3 on PATH. Exits 0 only if every exit code and report
# line came out as expected.
#
# The health check is health_check.py beside this script: it runs `SELECT 1` through the pooler
# (port 6432) of each cluster of the wave, with psql. The emulator has clusters but no database,
# so here PSQL points at fake_psql.sh, a stand-in that succeeds unless told to fail for one host.
# A real run leaves PSQL unset (psql itself, with PGUSER, PGDATABASE and PGPASSWORD) and so
# checks the pooler of each real cluster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

workdir=$(mktemp -d)
emulator_pid=
cleanup() {
    [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
    rm -rf "$workdir"
}
trap cleanup EXIT
cd "$workdir"
export PYTHONUNBUFFERED=1 # keeps reconciler's stdout and stderr in the order they were written

bold() {
    if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi
}
# say LINE...: what the next step does and why
say() {
    echo
    printf '# %s\n' "$@"
}
# step ARG...: the command about to run, quoted where it needs to be
step() {
    local shown='$' arg plain='^[][A-Za-z0-9_./=:%+,*@&-]+$'
    for arg in "$@"; do
        if [[ $arg =~ $plain ]]; then shown+=" $arg"; else shown+=" '$arg'"; fi
    done
    bold "$shown"
}
fail() {
    echo "rollout.sh: FAILED: $*" >&2
    exit 1
}
# run WANT CMD...: show CMD, run it (its stdout also kept in out.txt), fail unless it exits WANT
run() {
    local want=$1 rc=0
    shift
    step "$@"
    "$@" | tee out.txt || rc=$?
    [ "$rc" -eq "$want" ] || fail "expected exit $want from '$*', got $rc"
    echo "(exit $rc, as expected)"
}
# brief WANT CMD...: as run, but show only the first lines and the last of a long output
brief() {
    local want=$1 rc=0
    shift
    step "$@"
    "$@" >out.txt || rc=$?
    if [ "$(wc -l <out.txt)" -gt 12 ]; then
        head -n 8 out.txt
        echo "    [... $(($(wc -l <out.txt) - 9)) more lines ...]"
        tail -n 1 out.txt
    else
        cat out.txt
    fi
    [ "$rc" -eq "$want" ] || fail "expected exit $want from '$*', got $rc"
    echo "(exit $rc, as expected)"
}
# expect TEXT: the last command's stdout has a line containing TEXT
expect() { grep -qF -- "$1" out.txt || fail "expected a line with '$1' in the output above"; }
# rewrite PATTERN REPLACEMENT FILE...: a regular-expression replacement (Python's, multi-line)
# in each file, in place; portable where `sed -i` is not
rewrite() {
    python3 -c '
import re, sys
pattern, replacement, *paths = sys.argv[1:]
changed = 0
for path in paths:
    with open(path) as file:
        text = file.read()
    new = re.sub(pattern, replacement, text, flags=re.MULTILINE | re.DOTALL)
    if new != text:
        with open(path, "w") as file:
            file.write(new)
        changed += 1
print(f"{changed} of {len(paths)} files changed")
' "$@"
}

command -v reconciler >/dev/null ||
    fail "no reconciler on PATH: run this inside the project's virtualenv," \
        "or after pip install '.[emulator]'"

say "Start the API emulator: a generated fleet of 30 clusters, each BUSY for 1 s after a change."
step reconciler emulator --port 0 --count 30 --seed 2 --busy-seconds 1 --quiet --url-file url '&'
reconciler emulator --port 0 --count 30 --seed 2 --busy-seconds 1 --quiet --url-file url &
emulator_pid=$!
for _ in $(seq 100); do [ -s url ] && break; sleep 0.1; done
[ -s url ] || fail "the emulator did not start"
export IONOS_API_URL IONOS_TOKEN=demo-token # the emulator accepts any token
IONOS_API_URL=$(cat url)
# The health check's client: a stand-in here, psql itself in a real run (see the top).
export PSQL="$here/fake_psql.sh"
health="python3 $(printf %q "$here/health_check.py")"
waves=(--auto-approve --canary 2 --wave-size 25% --max-failures 0 --health-cmd "$health")

say "Adopt the fleet: one desired-state file per cluster, written from its live settings."
brief 0 reconciler import --all --out-dir clusters
say "Nothing to change yet: plan --detailed-exitcode exits 0."
run 0 reconciler plan --detailed-exitcode clusters
expect "No changes. 30 clusters match the desired state."

say "Change 1, in the files: every cluster in session pooling moves to transaction pooling."
step rewrite '^  poolMode: session$' '  poolMode: transaction' 'clusters/*.yaml'
rewrite '^  poolMode: session$' '  poolMode: transaction' clusters/*.yaml ||
    fail "could not edit the files"
say "The plan shows the change (exit 2: changes pending)."
brief 2 reconciler plan --detailed-exitcode clusters
to_change=$(sed -n 's/^Plan: \([0-9]*\) to change.*/\1/p' out.txt)
[ "${to_change:-0}" -gt 4 ] || fail "expected a plan with several clusters to change"

say "Apply in waves. The health check (its lines on stderr) runs after the 2 canaries and after" \
    "each wave. NOTE: its client here is fake_psql.sh, a stand-in: a real run uses psql against" \
    "each cluster's pooler."
run 0 reconciler apply clusters "${waves[@]}"
expect "Apply complete: $to_change converged"
say "Change 1 is done: nothing left to change."
run 0 reconciler plan --detailed-exitcode clusters

say "Change 2, in the files: the pooler enabled everywhere, in transaction mode."
pooler_on='connectionPooler:\n  enabled: true\n  poolMode: transaction\n'
step rewrite '^connectionPooler:\n.*' "$pooler_on" 'clusters/*.yaml'
rewrite '^connectionPooler:\n.*' "$pooler_on" clusters/*.yaml || fail "could not edit the files"
say "The plan (exit 2): every pooler that is off, and any poolMode the API would not accept."
brief 2 reconciler plan --detailed-exitcode clusters

say "This time one cluster of wave 1 (the first wave after the canaries) refuses clients."
reconciler plan --format json clusters >plan.json || fail "could not save the plan as JSON"
# its name and its dnsName (which the plan does not hold: asked of the API, as any client can)
victim=$(python3 -c '
import json, os, sys, urllib.request
updates = [c for c in json.load(open(sys.argv[1]))["clusters"] if c["action"] == "update"]
cluster = updates[2]  # after the 2 canaries: the first cluster of wave 1
url = os.environ["IONOS_API_URL"] + "/clusters/" + cluster["id"]
token = os.environ["IONOS_TOKEN"]
request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
with urllib.request.urlopen(request, timeout=10) as answer:
    found = json.load(answer)
# the v1 API has it among the properties, v2 in the metadata
print(cluster["name"], found["properties"].get("dnsName") or found["metadata"]["dnsName"])
' plan.json) || fail "could not find the first cluster of wave 1"
read -r victim_name victim_host <<<"$victim"
[ -n "${victim_host:-}" ] || fail "could not find the first cluster of wave 1"
echo "$victim_name ($victim_host): the stand-in client fails for it (FAKE_PSQL_FAIL_HOST)."
say "The rollout stops after wave 1: the rest are not sent, and apply exits 1."
run 1 env FAKE_PSQL_FAIL_HOST="$victim_host" reconciler apply clusters "${waves[@]}"
expect "Rollout stopped: the health check after wave 1 exited 1;"
not_sent=$(sed -n 's/^Rollout stopped: .*; \([0-9]*\) clusters\{0,1\} not sent.*/\1/p' out.txt)
[ "${not_sent:-0}" -gt 0 ] || fail "expected clusters not sent"
[ "$(grep -c 'not sent: rollout stopped' out.txt)" -eq "$not_sent" ] ||
    fail "expected $not_sent clusters reported 'not sent: rollout stopped'"
grep -q "^$victim_name .* converged " out.txt ||
    fail "expected $victim_name converged: the change reached it, its health check failed"

say "Fix the cause (here: the stand-in takes clients again), then run the very same apply." \
    "The clusters already changed match now; the $not_sent not sent continue, in waves again."
run 0 reconciler apply clusters "${waves[@]}"
expect "Apply complete: $not_sent converged"
say "Finally, nothing left to change: plan --detailed-exitcode exits 0."
run 0 reconciler plan --detailed-exitcode clusters
expect "No changes. 30 clusters match the desired state."

echo
bold "rollout.sh: every expectation held" \
    "(change 1 in waves; change 2 stopped by its health check, then finished)."
