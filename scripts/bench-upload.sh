#!/usr/bin/env bash
# performance.md #6: upload a CSV of ROWS customers with 5 custom fields to a release server,
# validated and upserted, and compare with the `copy` baseline (psql \copy of the same file into
# a bare table). Reports rows/s, the ratio, and the server's peak RSS. Usage:
#   scripts/bench-upload.sh            # 1,000,000 rows
#   ROWS=20000 scripts/bench-upload.sh # quick
set -euo pipefail

ROWS=${ROWS:-1000000}
PORT=${PORT:-18181}
BASE=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=nudgescribe_bench_upload
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p nudgescribe
BIN=${CARGO_TARGET_DIR:-target}/release/nudgescribe

awk -v n="$ROWS" 'BEGIN {
  print "external_id,email,phone,first_name,last_name,age,vip,born,plan,nick"
  for (i = 0; i < n; i++)
    printf "ext-%d,user%d@example.com,+1415%07d,First%d,Last%d,%d,%s,19%02d-%02d-%02d,%s,nick %d\n",
      i, i, i % 10000000, i, i, i % 90, (i % 2 ? "true" : "false"), 50 + i % 50, 1 + i % 12, 1 + i % 28,
      (i % 3 ? "pro" : "free"), i
}' > "$WORK/customers.csv"
SIZE=$(stat -c %s "$WORK/customers.csv")

psql "$BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
DATABASE_URL="$BASE/$DB" \
NUDGESCRIBE__SERVER__PORT=$PORT \
NUDGESCRIBE__LOG__LEVEL=warn \
NUDGESCRIBE__KEYS__MASTER_KEY_FILE="$WORK/master.key" \
NUDGESCRIBE__KEYS__MESSAGE_MASTER_KEY_FILE="$WORK/message.keys" \
NUDGESCRIBE__CUSTOMERS__MAX_UPLOAD_BYTES=$((SIZE * 2)) \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break
  sleep 0.1
done

API="http://127.0.0.1:$PORT"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
SIGNUP=$(curl -sf "$API/v1/signup" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench password 1","full_name":"Bench","account_name":"Bench"}')
WS=$(echo "$SIGNUP" | json '["workspace"]["id"]')
TOKEN=$(curl -sf "$API/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench password 1"}' | json '["access_token"]')
for field in '{"key":"age","label":"Age","type":"number"}' \
             '{"key":"vip","label":"VIP","type":"boolean"}' \
             '{"key":"born","label":"Born","type":"date"}' \
             '{"key":"plan","label":"Plan","type":"enum","options":["free","pro"]}' \
             '{"key":"nick","label":"Nick","type":"string"}'; do
  curl -sf "$API/v1/workspaces/$WS/profile-fields" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "$field" >/dev/null
done

upload() {
  local start end
  start=$(date +%s.%N)
  curl -sf "$API/v1/workspaces/$WS/customers/upload?mode=upsert" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: text/csv' --data-binary "@$WORK/customers.csv" >"$WORK/report.json"
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
FIRST=$(upload)
FIRST_REPORT=$(python3 -c "import json; r=json.load(open('$WORK/report.json')); print(r['created'], r['updated'], r['invalid_rows'])")
SECOND=$(upload)
SECOND_REPORT=$(python3 -c "import json; r=json.load(open('$WORK/report.json')); print(r['created'], r['updated'], r['invalid_rows'])")
PEAK_KIB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")

psql "$BASE/$DB" -qc "CREATE TABLE bench_copy (external_id text, email text, phone text,
  first_name text, last_name text, age text, vip text, born text, plan text, nick text)" >/dev/null
START=$(date +%s.%N)
psql "$BASE/$DB" -qc "\\copy bench_copy FROM '$WORK/customers.csv' CSV HEADER" >/dev/null
COPY=$(echo "$(date +%s.%N) - $START" | bc)

python3 - "$ROWS" "$FIRST" "$SECOND" "$COPY" "$PEAK_KIB" "$FIRST_REPORT" "$SECOND_REPORT" <<'PY'
import sys
rows, first, second, copy, peak = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5])
print(f"rows: {rows:,}  (created/updated/invalid: first {sys.argv[6]}; again {sys.argv[7]})")
print(f"| upload, new customers | {rows/first:,.0f} rows/s | {first:.1f} s |")
print(f"| upload again (all updates, nothing changes) | {rows/second:,.0f} rows/s | {second:.1f} s |")
print(f"| copy baseline (psql \\copy, bare table) | {rows/copy:,.0f} rows/s | {copy:.1f} s |")
print(f"| ratio, new customers / copy | {copy/first:.2f} | |")
print(f"| server peak RSS | {peak/1024:.0f} MiB | |")
PY
kill "$SERVER" && wait "$SERVER" 2>/dev/null || true
psql "$BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
