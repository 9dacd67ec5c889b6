# One word per everyday task. `cargo install just` if `just` is missing.

set dotenv-load := false

# Serve on http://127.0.0.1:8080 (creates and migrates the database on first run).
run *args:
    cargo run -p nudgescribe -- {{args}}

# The whole test suite (needs PostgreSQL at DATABASE_URL or 127.0.0.1:5432).
test *args:
    cargo test --workspace {{args}}

# The static checks, as CI runs them: formatting, clippy (with clippy.toml's rules), docs
# without warnings, licences/bans/sources (deny.toml), unused dependencies, schema drift.
# Needs cargo-deny, cargo-machete and diesel_cli (.ci/run installs them at their pinned versions).
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
    cargo fetch --locked --quiet
    cargo deny --offline check licenses bans sources
    cargo machete
    scripts/check-schema.sh

# Regenerate crates/postgres/src/schema.rs from migrations/ (after adding a migration).
schema:
    scripts/check-schema.sh --write

fmt:
    cargo fmt --all

# performance.md: criterion micro-benchmarks of the hot pure functions, then every workload and
# baseline against a release server (3 runs; about 25 minutes), written to docs/benchmarks.md.
# `just bench quick`: seconds per workload on a debug build, only to prove the bench still
# works (CI runs it; its figures mean nothing).
bench mode="full":
    #!/usr/bin/env bash
    set -euo pipefail
    target="${CARGO_TARGET_DIR:-target}"
    if [ "{{mode}}" = quick ]; then
        cargo build -q -p nudgescribe -p nudgescribe-bench
        "$target/debug/nudgescribe-bench" run --quick --server "$target/debug/nudgescribe"
    else
        cargo bench -p nudgescribe-tokens -p nudgescribe-campaigns -p nudgescribe-customers
        cargo build --release -q -p nudgescribe -p nudgescribe-bench
        "$target/release/nudgescribe-bench" run --server "$target/release/nudgescribe" --write docs/benchmarks.md
    fi

# One run of every workload with ROWS customers uploaded (`just bench-rows 200000` for a quicker
# look); prints the table, writes nothing.
bench-rows rows="1000000":
    cargo build --release -q -p nudgescribe -p nudgescribe-bench
    "${CARGO_TARGET_DIR:-target}/release/nudgescribe-bench" run --server "${CARGO_TARGET_DIR:-target}/release/nudgescribe" --runs 1 --rows {{rows}}

# Create and migrate the database, then open psql on it.
db:
    cargo run -p nudgescribe -- migrate
    psql "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/nudgescribe}"

# Fetch the free (CC0) country database into .nudgescribe/ and print the setting that uses it.
geoip:
    mkdir -p .nudgescribe/geoip
    cd .nudgescribe/geoip && npm pack @ip-location-db/geo-whois-asn-country-mmdb >/dev/null && tar xzf ip-location-db-geo-whois-asn-country-mmdb-*.tgz
    @echo "NUDGESCRIBE__GEOIP__DATABASE=$PWD/.nudgescribe/geoip/package/geo-whois-asn-country.mmdb"

# --- Reliability and security suite (issue #9; results in docs/reliability.md) ---------------

# Property tests (importer chunking, token parsing, request bodies) with more cases than CI.
proptest cases="2000":
    PROPTEST_CASES={{cases}} cargo test -p nudgescribe-customers import_props
    PROPTEST_CASES={{cases}} cargo test -p nudgescribe-tokens --test props
    PROPTEST_CASES={{cases}} cargo test -p nudgescribe-http --test wire_props

# Bad input, the tenant sweep (with the RLS check of every tenant table) and multi-instance.
reliability-tests:
    cargo test -p nudgescribe-e2e --test bad_input --test tenant_sweep
    cargo test -p nudgescribe-postgres --test rls
    cargo test -p nudgescribe --test two_instances

# schemathesis from /v1/openapi.json, every phase and check, EXAMPLES per operation.
fuzz-api examples="100":
    MAX_EXAMPLES={{examples}} scripts/reliability/fuzz-api.sh

fuzz-api-quick:
    MAX_EXAMPLES=5 scripts/reliability/fuzz-api.sh

# Postgres (a throwaway cluster of the script's own) stopped under load; SIGKILL mid-upload.
faults duration="60":
    DURATION={{duration}} scripts/reliability/fault-injection.sh
    scripts/reliability/outbox-kill.sh

# The server SIGKILLed while an email is in flight to SMTP; the restart delivers it once (~65 s).
faults-outbox:
    scripts/reliability/outbox-kill.sh

faults-quick:
    DURATION=15 DOWN=2 ROWS=200000 scripts/reliability/fault-injection.sh

# Mixed load at about half capacity, RSS and errors sampled into target/reliability/soak.csv.
soak duration="600" rate="150":
    DURATION={{duration}} RATE={{rate}} scripts/reliability/soak.sh

soak-quick:
    DURATION=30 RATE=100 scripts/reliability/soak.sh

# The quick versions of everything above that CI runs after the test suite.
reliability-quick: fuzz-api-quick faults-quick faults-outbox soak-quick

# The client SDK's integrator example against a running server: set NUDGESCRIBE_API_KEY (and
# NUDGESCRIBE_URL, default http://127.0.0.1:8080); optional args: WORKSPACE_ID CSV_FILE.
# README.md, "The Rust client", shows how to get a key.
example *args:
    cargo run -p nudgescribe-client --example integrator -- {{args}}
