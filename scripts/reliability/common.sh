# Shared by the reliability scripts (issue #9): a server binary, a database of its own (on the
# machine's PostgreSQL, or on a throwaway cluster that a script may restart), a running server,
# and an account with a token. Source it; call `rel_cleanup` from an EXIT trap.
# shellcheck shell=bash

REL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REL_WORK=${REL_WORK:-$(mktemp -d)}
REL_PROFILE=${PROFILE:-debug}
REL_SERVERS=()
REL_PG_DIR=""
REL_PG_PORT=""
REL_DATABASES=()
REL_BASE=${RELIABILITY_POSTGRES:-postgres://postgres@127.0.0.1:5432}

rel_log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Builds the `nudgescribe` binary (PROFILE=debug|release) and sets REL_BIN.
rel_build() {
  local flag=()
  [ "$REL_PROFILE" = release ] && flag=(--release)
  (cd "$REL_ROOT" && cargo build -q "${flag[@]}" -p nudgescribe)
  REL_BIN=${CARGO_TARGET_DIR:-$REL_ROOT/target}/$REL_PROFILE/nudgescribe
}

# Starts a throwaway PostgreSQL cluster (initdb into REL_WORK) on port $1 and points REL_BASE
# at it, so that a script can stop and restart *its own* database without disturbing anyone
# else's tests on the machine's shared cluster.
rel_own_postgres() {
  REL_PG_PORT=${1:-55432}
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  REL_PG_BIN=$bin
  REL_PG_DIR=$REL_WORK/pgdata
  mkdir -p "$REL_PG_DIR"
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$REL_WORK" "$REL_PG_DIR"
    as=(runuser -u postgres --)
  fi
  REL_PG_AS=("${as[@]}")
  "${as[@]}" "$bin/initdb" -D "$REL_PG_DIR" -U postgres --auth=trust -E UTF8 >"$REL_WORK/initdb.log" 2>&1
  rel_pg_ctl start
  REL_BASE=postgres://postgres@127.0.0.1:$REL_PG_PORT
}

# pg_ctl on the throwaway cluster: start | stop | restart (fast shutdown: connections dropped).
rel_pg_ctl() {
  "${REL_PG_AS[@]}" "$REL_PG_BIN/pg_ctl" -D "$REL_PG_DIR" -l "$REL_WORK/postgres.log" -w -m fast \
    -o "-p $REL_PG_PORT -k $REL_WORK -c listen_addresses=127.0.0.1 -c max_connections=200" "$1" >/dev/null
}

# A fresh database name on REL_BASE (created by the server itself on start).
rel_database() {
  local name="nudgescribe_rel_$1_$$"
  psql "$REL_BASE/postgres" -qc "DROP DATABASE IF EXISTS $name" >/dev/null 2>&1 || true
  REL_DATABASES+=("$name")
  echo "$REL_BASE/$name"
}

# Starts a server on port $1 against database URL $2 (extra NAME=VALUE settings may follow);
# waits until it is ready. Its pid is appended to REL_SERVERS and left in REL_PID (call it
# directly, not in `$(...)`, or the pid is lost with the subshell).
rel_start_server() {
  local port=$1 url=$2
  shift 2
  mkdir -p "$REL_WORK/keys"
  env DATABASE_URL="$url" \
    NUDGESCRIBE__SERVER__PORT="$port" \
    NUDGESCRIBE__SERVER__WORKERS="${REL_WORKERS:-2}" \
    NUDGESCRIBE__LOG__LEVEL="${REL_LOG_LEVEL:-warn}" \
    NUDGESCRIBE__AUTH__BCRYPT_COST=4 \
    NUDGESCRIBE__RATE_LIMITS__SIGNIN_PER_IP_PER_MINUTE="${REL_SIGNIN_LIMIT:-100000}" \
    NUDGESCRIBE__RATE_LIMITS__SIGNUP_PER_IP_PER_HOUR="${REL_SIGNUP_LIMIT:-100000}" \
    NUDGESCRIBE__RATE_LIMITS__INVITATIONS_PER_ACCOUNT_PER_HOUR=100000 \
    NUDGESCRIBE__KEYS__MASTER_KEY_FILE="$REL_WORK/keys/master.key" \
    NUDGESCRIBE__KEYS__MESSAGE_MASTER_KEY_FILE="$REL_WORK/keys/message.keys" \
    "$@" "$REL_BIN" serve >>"$REL_WORK/server-$port.log" 2>&1 &
  local pid=$!
  REL_SERVERS+=("$pid")
  REL_PID=$pid
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rel_log "server on $port died; its log:"
      tail -n 30 "$REL_WORK/server-$port.log" >&2
      return 1
    fi
    sleep 0.1
  done
  rel_log "server on $port not ready after 30 s"
  return 1
}

# Signs an account up on the server at $1 (email $2), gives its owner the developer role too
# (so that API keys can be made), and prints an access token.
rel_token() {
  local api=$1 email=$2 user token
  user=$(curl -sf -X POST "$api/v1/signup" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"correct horse battery\",\"full_name\":\"Rel\",\"account_name\":\"Reliability $email\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')
  token=$(curl -sf -X POST "$api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"correct horse battery\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -sf -X PUT "$api/v1/users/$user/roles" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"account_roles":["developer"],"workspace_roles":[]}' >/dev/null
  echo "$token"
}

rel_cleanup() {
  local pid
  for pid in "${REL_SERVERS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${REL_SERVERS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$REL_PG_DIR" ]; then
    rel_pg_ctl stop 2>/dev/null || true
  else
    local db
    for db in "${REL_DATABASES[@]}"; do
      psql "$REL_BASE/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
  fi
  if [ -z "${KEEP_WORK:-}" ]; then
    rm -rf "$REL_WORK"
  else
    rel_log "work files kept in $REL_WORK"
  fi
}
