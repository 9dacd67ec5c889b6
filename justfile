# One word per everyday task. `cargo install just` if `just` is missing.

set dotenv-load := false

# Serve on http://127.0.0.1:8080 (creates and migrates the database on first run).
run *args:
    cargo run -p nudgescribe -- {{args}}

# The whole test suite (needs PostgreSQL at DATABASE_URL or 127.0.0.1:5432).
test *args:
    cargo test --workspace {{args}}

# Formatting check and clippy, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Criterion micro-benchmarks of the hot pure functions, then the HTTP workloads measured so far
# (#6 upload, #7 publish, #8 retrieve) on a release server. The full harness of performance.md
# (baselines hello/db-read/db-write/bcrypt, targets #1–#5, #9, #10) is the benchmarks issue.
bench *args:
    cargo bench -p nudgescribe-tokens -p nudgescribe-campaigns -p nudgescribe-customers {{args}}
    scripts/bench-upload.sh
    scripts/bench-messages.sh

# performance.md #6 alone: upload ROWS customers (default 1,000,000) against the copy baseline.
bench-upload rows="1000000":
    ROWS={{rows}} scripts/bench-upload.sh

# Create and migrate the database, then open psql on it.
db:
    cargo run -p nudgescribe -- migrate
    psql "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/nudgescribe}"

# Fetch the free (CC0) country database into .nudgescribe/ and print the setting that uses it.
geoip:
    mkdir -p .nudgescribe/geoip
    cd .nudgescribe/geoip && npm pack @ip-location-db/geo-whois-asn-country-mmdb >/dev/null && tar xzf ip-location-db-geo-whois-asn-country-mmdb-*.tgz
    @echo "NUDGESCRIBE__GEOIP__DATABASE=$PWD/.nudgescribe/geoip/package/geo-whois-asn-country.mmdb"

# The client SDK's integrator example against a running server: set NUDGESCRIBE_API_KEY (and
# NUDGESCRIBE_URL, default http://127.0.0.1:8080); optional args: WORKSPACE_ID CSV_FILE.
# README.md, "The Rust client", shows how to get a key.
example *args:
    cargo run -p nudgescribe-client --example integrator -- {{args}}
