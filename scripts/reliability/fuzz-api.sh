#!/usr/bin/env bash
# Issue #9 part 1: schemathesis against the running server, from its own OpenAPI document, with
# a valid token: every phase (examples, coverage, fuzzing, stateful) and every check. Zero server
# errors and zero schema violations are required; unauthenticated calls must be refused
# (the `ignored_auth` check). Calls that end the fuzzer's own session (logout, password change)
# run in a second pass with a token of their own, so that the first pass keeps its credentials.
#
#   MAX_EXAMPLES  examples per operation and phase (default 100; CI: 5)
#   MAX_TIME      optional time budget in seconds for each pass (fuzzing repeats until spent)
#   PROFILE       debug (default) or release binary
#   SEED          a fixed seed, to replay a run
set -euo pipefail
source "$(dirname "$0")/common.sh"
trap rel_cleanup EXIT

ST_VERSION=4.32.5
VENV=$REL_ROOT/target/schemathesis-venv
if [ "$("$VENV/bin/st" --version 2>/dev/null | grep -o '[0-9.]*$')" != "$ST_VERSION" ]; then
  rel_log "installing schemathesis $ST_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$ST_VERSION"
fi

MAX_EXAMPLES=${MAX_EXAMPLES:-100}
PORT=${PORT:-18291}
API=http://127.0.0.1:$PORT
OUT=${OUT:-$REL_ROOT/target/reliability}
mkdir -p "$OUT"

rel_build
URL=$(rel_database fuzz)
rel_start_server "$PORT" "$URL"
TOKEN=$(rel_token "$API" fuzz-owner@example.com)

common=(
  --url "$API"
  --phases examples,coverage,fuzzing,stateful
  --checks all
  # The schema states types, not every business rule (password length, known enum values
  # for a field of type string...): a well-typed request the server refuses with a 4xx is
  # not a defect. Everything else (5xx, undocumented status, body not matching its schema,
  # accepted malformed data, ignored auth) is.
  --exclude-checks positive_data_acceptance
  --max-examples "$MAX_EXAMPLES"
  --workers "${WORKERS:-2}"
  --request-timeout 20
  --suppress-health-check all
  --no-color
)
[ -n "${MAX_TIME:-}" ] && common+=(--max-time "$MAX_TIME")
[ -n "${SEED:-}" ] && common+=(--seed "$SEED")

session_enders='^/v1/(auth/logout|me/password|me/sessions/.+)$'
status=0
rel_log "pass 1: every operation but those ending the session ($MAX_EXAMPLES examples each)"
"$VENV/bin/st" run "$API/v1/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $TOKEN" \
  --exclude-path-regex "$session_enders" \
  --report junit --report-junit-path "$OUT/fuzz-api-main.xml" \
  2>&1 | tee "$OUT/fuzz-api-main.txt" || status=$?

SECOND=$(rel_token "$API" fuzz-second@example.com)
rel_log "pass 2: the operations that end the session"
"$VENV/bin/st" run "$API/v1/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $SECOND" \
  --include-path-regex "$session_enders" \
  --report junit --report-junit-path "$OUT/fuzz-api-session.xml" \
  2>&1 | tee "$OUT/fuzz-api-session.txt" || status=$?

if grep -q "panicked\|internal error" "$REL_WORK/server-$PORT.log"; then
  rel_log "the server logged internal errors:"
  grep "panicked\|internal error" "$REL_WORK/server-$PORT.log" | head -n 20 >&2
  status=1
fi
exit "$status"
