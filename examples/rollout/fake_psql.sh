#!/usr/bin/env bash
# A stand-in for psql, for rollout.sh: the emulator has clusters but no database, so nothing
# answers on port 6432. health_check.py runs its client as
#   CLIENT "host=DNSNAME port=6432 connect_timeout=5" -X -q -c "SELECT 1"
# and a real run uses psql against each cluster's pooler. This one only looks at the host: it
# succeeds, except for the host named in FAKE_PSQL_FAIL_HOST, which it answers the way psql
# answers a pooler that refuses clients.
set -euo pipefail
dsn=${1:?usage: fake_psql.sh "host=... port=6432 ..." [psql options]}
host=${dsn#*host=}
host=${host%% *}
if [ -n "${FAKE_PSQL_FAIL_HOST:-}" ] && [ "$host" = "$FAKE_PSQL_FAIL_HOST" ]; then
    echo "psql: error: connection to server at \"$host\", port 6432 failed:" \
        "server closed the connection unexpectedly (stand-in for psql)" >&2
    exit 2
fi
