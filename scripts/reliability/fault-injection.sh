#!/usr/bin/env bash
# Issue #9 part 3: faults under load, on a throwaway PostgreSQL cluster of this script's own
# (initdb into a temporary directory, port PG_PORT) — never the machine's shared cluster.
#
#  1. Postgres restarted (and kept down for DOWN seconds) while THREADS clients publish and
#     upload: requests fail cleanly (503 `unavailable`, no hang, no 500), the server recovers
#     by itself, and every acknowledged publish and upload is readable afterwards.
#  2. The server killed with SIGKILL in the middle of a large upload: after a restart the
#     upload left no rows and no lock (the same upload then goes through).
#
#   DURATION (default 30 s of load), DOWN (default 3 s), PROFILE=debug|release
set -euo pipefail
source "$(dirname "$0")/common.sh"
trap rel_cleanup EXIT

DURATION=${DURATION:-30}
DOWN=${DOWN:-3}
PG_PORT=${PG_PORT:-55432}
PORT=${PORT:-18292}
API=http://127.0.0.1:$PORT
OUT=${OUT:-$REL_ROOT/target/reliability}
mkdir -p "$OUT"

rel_build
rel_own_postgres "$PG_PORT"
URL=$(rel_database fault)
start() {
  rel_start_server "$PORT" "$URL" \
    NUDGESCRIBE__DATABASE__ACQUIRE_TIMEOUT_MS=2000 \
    NUDGESCRIBE__DATABASE__MAX_CONNECTIONS=8
}
start
SERVER=$REL_PID
TOKEN=$(rel_token "$API" fault@example.com)
auth=(-H "authorization: Bearer $TOKEN" -H 'content-type: application/json')
WS=$(curl -sf "$API/v1/workspaces" "${auth[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
CAMPAIGN=$(curl -sf -X POST "$API/v1/workspaces/$WS/campaigns" "${auth[@]}" \
  -d '{"name":"Fault","channel":"email","group_ids":[]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export API TOKEN WS CAMPAIGN DURATION THREADS=${THREADS:-4}

# --- 1. Postgres restarted under load -------------------------------------------------------
rel_log "load for ${DURATION}s; Postgres stopped at $((DURATION / 3))s for ${DOWN}s, then started"
python3 "$(dirname "$0")/load.py" fault >"$OUT/fault-restart.json" &
LOAD=$!
sleep $((DURATION / 3))
rel_pg_ctl stop
sleep "$DOWN"
rel_pg_ctl start
rel_log "Postgres is back"
status=0
wait "$LOAD" || status=$?
cat "$OUT/fault-restart.json"
kill -0 "$SERVER" || { rel_log "the server died"; status=1; }
[ "$status" = 0 ] || rel_log "part 1 FAILED"

# --- 2. SIGKILL mid-upload ------------------------------------------------------------------
count_customers() {
  psql "$URL" -tAc "SELECT count(*) FROM customers" | tr -d ' '
}
before=$(count_customers)
rows=${ROWS:-300000}
rel_log "streaming a ${rows}-row upload; SIGKILL to the server once it is under way"
python3 - "$rows" >"$REL_WORK/big.csv" <<'PY'
import sys
n = int(sys.argv[1])
sys.stdout.write("external_id,email,first_name\n")
for i in range(n):
    sys.stdout.write(f"kill-{i},kill-{i}@example.com,Row{i}\n")
PY
curl -s -o /dev/null -X POST "$API/v1/workspaces/$WS/customers/upload" \
  -H "authorization: Bearer $TOKEN" -H 'content-type: text/csv' \
  --limit-rate 2M --data-binary @"$REL_WORK/big.csv" &
UPLOAD=$!
sleep 2
kill -9 "$SERVER"
wait "$UPLOAD" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
REL_SERVERS=()
start
SERVER=$REL_PID
after=$(count_customers)
# The killed server's connections are gone, and with them their transactions and locks.
leftover=$(psql "$URL" -tAc "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'" | tr -d ' ')
locks=$(psql "$URL" -tAc "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'" | tr -d ' ')
again=$(curl -s -o "$REL_WORK/again.json" -w '%{http_code}' -X POST "$API/v1/workspaces/$WS/customers/upload" \
  -H "authorization: Bearer $TOKEN" -H 'content-type: text/csv' --data-binary @<(head -n 1001 "$REL_WORK/big.csv"))
final=$(count_customers)
cat >"$OUT/fault-kill.json" <<JSON
{"customers_before": $before, "customers_after_kill": $after, "idle_in_transaction": $leftover,
 "advisory_locks": $locks, "same_upload_again": $again, "customers_after_retry": $final}
JSON
cat "$OUT/fault-kill.json"
if [ "$before" != "$after" ] || [ "$leftover" != 0 ] || [ "$locks" != 0 ] || [ "$again" != 200 ] || [ "$final" != $((before + 1000)) ]; then
  rel_log "part 2 FAILED"
  status=1
fi
exit "$status"
