#!/usr/bin/env bash
# performance.md #7 and #8: starts a release server on a fresh database and runs
# scripts/bench_messages.py against it (THREADS client threads, DURATION seconds per workload).
set -euo pipefail

PORT=${PORT:-18182}
BASE=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=nudgescribe_bench_messages
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p nudgescribe
BIN=${CARGO_TARGET_DIR:-target}/release/nudgescribe
psql "$BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
DATABASE_URL="$BASE/$DB" \
NUDGESCRIBE__SERVER__PORT=$PORT \
NUDGESCRIBE__LOG__LEVEL=warn \
NUDGESCRIBE__KEYS__MASTER_KEY_FILE="$WORK/master.key" \
NUDGESCRIBE__KEYS__MESSAGE_MASTER_KEY_FILE="$WORK/message.keys" \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break
  sleep 0.1
done
API="http://127.0.0.1:$PORT" python3 "$(dirname "$0")/bench_messages.py"
echo "| server peak RSS | $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$SERVER/status") |"
kill "$SERVER" && wait "$SERVER" 2>/dev/null || true
psql "$BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
