#!/usr/bin/env bash
# The one test command: installs what is missing (idempotently), then runs every gate:
# fmt, clippy -D warnings on all targets and features, all tests (unit, integration, examples,
# doc tests, the property suite in tests/properties), a soak of 20 000 reloads, rustdoc with
# warnings denied, the MSRV (checked against Cargo.lock, then built with that toolchain), every
# publishable crate built from its package, and the README's quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain components, servers and tools the tests need, installed when missing.
source scripts/prerequisites.sh

# --- the README's main job needs the Rust toolchain alone ---------------------------------------
# `cargo run --example quickstart` at the root selects the workspace's default-members and unifies
# their features: a member that turns on a backend (tests/ turns on `full`) would drag etcd-client
# (protoc), tonic, nacos-sdk or reqwest into the quickstart. `cargo tree` on the same selection is
# the cheap check; the quickstart at the end also builds with a failing `protoc` in its own target
# directory, as on a fresh machine.
say "quickstart guard: no backend or protoc-needing crate in the README's main job"
forbidden='^(etcd-client|tonic|tonic-build|prost-build|nacos-sdk|reqwest|hotconf-http|hotconf-etcd|hotconf-consul|hotconf-nacos|hotconf-apollo|hotconf-kubernetes|hotconf-vault|kube|k8s-openapi) '
if found=$(cargo tree --locked -e normal,build,dev --prefix none --format '{p}' | sort -u | grep -E "$forbidden"); then
    echo "error: 'cargo run --example quickstart' would build crates it does not need:" >&2
    echo "$found" >&2
    echo "(a default-member of the workspace enables a backend feature: see default-members in Cargo.toml)" >&2
    exit 1
fi

# --- a truthful rust-version ------------------------------------------------------------------
# A dependency in Cargo.lock that declares a higher rust-version than a publishable crate that
# builds with it makes that crate's rust-version a lie: this fails naming both, and the version.
say "MSRV: no publishable crate's rust-version below what its dependencies need (Cargo.lock)"
python3 scripts/msrv.py

# --- every feature builds on its own --------------------------------------------------------
say "each feature of the facade and the CLI alone, and none"
for package in hotconf hotconf-cli; do
    # Only the facade has `metrics` and `schema` (the CLI has no such features).
    facade_only=""
    if [ "$package" = hotconf ]; then facade_only="metrics schema"; fi
    for feature in "" file age env etcd consul nacos apollo http kubernetes vault $facade_only full; do
        echo "  $package: ${feature:-no default features}"
        cargo check --quiet --locked -p "$package" --no-default-features ${feature:+--features "$feature"}
    done
done

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (all targets, all features, -D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

say "cargo test (all crates, examples, doc tests)"
cargo test --workspace --all-features --locked

say "soak: 20 000 reloads with memory, file descriptors and threads flat (docs/benchmarks.md)"
HOTCONF_SOAK_RELOADS=20000 cargo test --quiet --locked -p hotconf-core --bench soak

say "fleet: 200 followers through a 5 s outage on etcd, Consul, Apollo and r-nacos, none losing the change (docs/benchmarks.md)"
HOTCONF_FLEET_FOLLOWERS=200 HOTCONF_FLEET_OUTAGE=5s HOTCONF_FLEET_KINDS=hotconf \
    cargo test --quiet --locked -p hotconf-fleet --bench fleet_restart

say "fleet: 10 hotconf watch processes through a 5 s outage and restart on each backend"
cargo build --quiet --locked --workspace --all-features --bin hotconf
HOTCONF_FLEET_FOLLOWERS=10 HOTCONF_FLEET_OUTAGE=5s HOTCONF_FLEET_KINDS=cli \
    HOTCONF_FLEET_CLI="$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug/hotconf" \
    cargo test --quiet --locked -p hotconf-fleet --bench fleet_restart

say "allocation budgets: reads allocate nothing, reloads within their budgets (docs/benchmarks.md)"
cargo test --quiet --locked -p hotconf-core --bench allocations

say "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked --quiet

# --- ready for crates.io ------------------------------------------------------------------------
msrv=$(python3 scripts/msrv.py --declared)
say "MSRV: the publishable crates build with Rust $msrv, the rust-version they declare"
# All features, libraries and binaries (dev-dependencies are not the users' concern); about
# 5 minutes the first time on 2 cores, seconds once built.
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$msrv" --profile minimal
fi
# shellcheck disable=SC2046 # one --package=NAME argument per line
cargo "+$msrv" check --quiet --locked --all-features --lib --bins $(python3 scripts/msrv.py --packages)

say "cargo package: every publishable crate built alone from its packaged form"
started=$(date +%s)
scripts/package.sh
echo "packaged and built in $(( $(date +%s) - started )) s"

say "quickstart (the README's main job), in its own target directory, with a protoc that fails"
false_protoc="$(mktemp)"
printf '#!/bin/sh\necho "protoc must not be needed by the quickstart" >&2\nexit 1\n' >"$false_protoc"
chmod +x "$false_protoc"
started=$(date +%s)
quickstart=$(PROTOC="$false_protoc" CARGO_TARGET_DIR=target/quickstart cargo run --quiet --locked --example quickstart)
echo "$quickstart"
echo "quickstart built and ran in $(( $(date +%s) - started )) s"
rm -f "$false_protoc"
# What it prints for a person uses Display: the rollback reads "rollback of v2", never Rust's
# Debug form (`Rollback { of: 2 }`). Its JSON event lines are JSON.
if ! grep -qE '^  applied v[0-9]+ \(rollback of v2\);' <<<"$quickstart" \
    || grep -E '[A-Za-z]+ \{ [a-z_]+: ' <<<"$quickstart"; then
    echo "error: the quickstart prints a value in its Debug form (or no longer rolls back to v2)" >&2
    exit 1
fi

say "all gates passed"
