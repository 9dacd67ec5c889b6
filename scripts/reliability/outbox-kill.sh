#!/usr/bin/env bash
# Issue #9, fault injection: the server killed with SIGKILL while an email is being handed to
# the SMTP server. The outbox row must say "not delivered" (the claim only runs out), and after a
# restart the email must go out exactly from that row and the row must say "delivered".
#
#   scripts/reliability/outbox-kill.sh      (about 90 s: the killed server's claim lasts 60 s)
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
trap 'kill "${STALL:-0}" "${SINK:-0}" 2>/dev/null || true; rel_cleanup' EXIT

rel_build
DB=$(rel_database outbox)
PORT=${PORT:-18261}
STALL_PORT=${STALL_PORT:-18262}
SINK_PORT=${SINK_PORT:-18263}
API="http://127.0.0.1:$PORT"
PEER="$(dirname "$0")/smtp_peer.py"

python3 "$PEER" stall "$STALL_PORT" "$REL_WORK/stall.marker" &
STALL=$!
rel_start_server "$PORT" "$DB" NUDGESCRIBE__EMAIL__SMTP_URL="smtp://127.0.0.1:$STALL_PORT"
FIRST=$REL_PID
rel_token "$API" "outbox@example.com" >/dev/null

rel_log "asking for a password reset: its email goes to an SMTP server that never answers"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/v1/auth/password-reset" \
  -H 'content-type: application/json' -d '{"email":"outbox@example.com"}')
[ "$status" = 202 ] || { rel_log "password reset answered $status"; exit 1; }
for _ in $(seq 1 100); do
  [ -s "$REL_WORK/stall.marker" ] && break
  sleep 0.1
done
[ -s "$REL_WORK/stall.marker" ] || { rel_log "the outbox never connected to SMTP"; exit 1; }
rel_log "delivery in flight; SIGKILL to the server"
kill -9 "$FIRST"
wait "$FIRST" 2>/dev/null || true

outbox() {
  psql "$DB" -qAtX -c "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL),
                              count(*) FILTER (WHERE delivered_at IS NOT NULL),
                              max(attempts)
                         FROM email_outbox"
}
# Sign-up queued a verification email before the reset: the first of them is the one in flight
# (claimed once), the other waits behind it; neither is delivered.
after_kill=$(outbox)
rel_log "outbox after the kill (pending|delivered|attempts): $after_kill"
[ "$after_kill" = "2|0|1" ] || { rel_log "expected two pending messages, one claimed once"; exit 1; }

kill "$STALL" 2>/dev/null || true
python3 "$PEER" sink "$SINK_PORT" "$REL_WORK/sink.out" &
SINK=$!
rel_start_server "$PORT" "$DB" NUDGESCRIBE__EMAIL__SMTP_URL="smtp://127.0.0.1:$SINK_PORT"
rel_log "restarted against a working SMTP server; waiting for the claim to run out (60 s)"
for _ in $(seq 1 150); do
  [ "$(grep -c -- "--- end of message ---" "$REL_WORK/sink.out" 2>/dev/null)" = 2 ] && break
  sleep 1
done
sleep 1
final=$(outbox)
delivered=$(grep -c -- "--- end of message ---" "$REL_WORK/sink.out" 2>/dev/null || true)
resets=$(grep -c -- "Subject: Reset your" "$REL_WORK/sink.out" 2>/dev/null || true)
rel_log "outbox after the restart (pending|delivered|attempts): $final; messages received: $delivered"
[ "$final" = "0|2|2" ] && [ "$delivered" = 2 ] && [ "$resets" = 1 ] \
  || { rel_log "expected each message delivered once, the in-flight one on its second attempt"; exit 1; }
echo "outbox SIGKILL: the in-flight email stayed pending, was delivered once after the restart"
