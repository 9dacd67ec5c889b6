#!/usr/bin/env bash
# The committed crates/postgres/src/schema.rs must be exactly what `diesel print-schema`
# (configured by diesel.toml) makes of a database that the server itself has just migrated:
# a migration without its schema change, or a hand edit of schema.rs, fails CI here.
#
#   scripts/check-schema.sh           compare (CI)
#   scripts/check-schema.sh --write   regenerate schema.rs after adding a migration
#
# Needs diesel_cli (`cargo install --locked diesel_cli --no-default-features --features postgres`)
# and PostgreSQL at SCHEMA_CHECK_POSTGRES (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."

base=${SCHEMA_CHECK_POSTGRES:-postgres://postgres@127.0.0.1:5432}
database="nudgescribe_schema_check_$$"
url="$base/$database"
printed=$(mktemp)
cleanup() {
  psql "$base/postgres" -qXc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
  rm -f "$printed"
}
trap cleanup EXIT

psql "$base/postgres" -qXc "CREATE DATABASE $database" >/dev/null
if [ "${1:-}" = --write ]; then
  # diesel_cli migrates and rewrites schema.rs itself (diesel.toml): no build needed, so this
  # works while schema.rs does not compile.
  diesel migration run --database-url "$url" >/dev/null
  echo "crates/postgres/src/schema.rs regenerated"
  exit 0
fi

# Checked: migrated as the server migrates (its embedded migrations).
cargo build -q -p nudgescribe
NUDGESCRIBE__DATABASE__URL=$url NUDGESCRIBE__LOG__LEVEL=warn \
  "${CARGO_TARGET_DIR:-target}/debug/nudgescribe" migrate
diesel print-schema --database-url "$url" >"$printed"
if diff -u crates/postgres/src/schema.rs "$printed"; then
  echo "schema.rs matches the migrations"
else
  echo "crates/postgres/src/schema.rs does not match migrations/: run scripts/check-schema.sh --write" >&2
  exit 1
fi
