#!/usr/bin/env bash
# Runs every benchmark and prints each one's table: reads, reloads, a small change, allocations,
# each backend's change -> applied latency, the metrics' cost and the sidecar, each against a
# baseline measured in the same run, with the Rust peers beside hotconf (docs/benchmarks.md
# explains every row).
#
#   scripts/bench.sh           the figures of docs/benchmarks.md (about 20 minutes once built)
#   scripts/bench.sh --short   fewer rounds, shorter criterion windows: under 5 minutes once
#                              built, for a quick look (medians move more from run to run)
#   scripts/bench.sh --fleet   only `fleet_restart`: 1 000 followers on each of etcd, Consul,
#                              Apollo and r-nacos through a 30 s outage, hotconf's and the raw
#                              clients', then 100 `hotconf watch` processes through a 10 s one
#                              (about 8 minutes once built; HOTCONF_FLEET_* settings)
#
# Full outputs are kept in target/bench-logs/. Installs what the benches need, like test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

short=false
fleet=false
case "${1:-}" in
    "") ;;
    --short) short=true ;;
    --fleet) fleet=true ;;
    *)
        echo "usage: scripts/bench.sh [--short | --fleet]" >&2
        exit 2
        ;;
esac

source scripts/prerequisites.sh

criterion=(--noplot --quiet)
if $short; then
    export HOTCONF_BENCH_ROUNDS="${HOTCONF_BENCH_ROUNDS:-30}" HOTCONF_BENCH_SHORT=1
    criterion+=(--warm-up-time 0.2 --measurement-time 0.5 --sample-size 10)
fi
logs=target/bench-logs
mkdir -p "$logs"

say "building every benchmark (release; the first build takes about 15 minutes on 2 cores)"
cargo bench --workspace --all-features --locked --no-run --quiet 2>&1 | grep -v '^\s*Executable' || true

started=$(date +%s)
# `bench PACKAGE NAME [criterion]`: runs one benchmark, keeps its output, prints its tables.
bench() {
    local package=$1 name=$2 args=() log=${BENCH_LOG:-$2}
    [ "${3:-}" = criterion ] && args=("${criterion[@]}")
    say "$name ($package)"
    local t0
    t0=$(date +%s)
    if ! cargo bench --quiet --locked --workspace --all-features --bench "$name" -- "${args[@]}" \
        >"$logs/$log.txt" 2>"$logs/$log.stderr"; then
        cat "$logs/$log.txt"
        tail -20 "$logs/$log.stderr" >&2
        echo "error: the $name benchmark failed (full output in $logs/)" >&2
        exit 1
    fi
    # Criterion's per-function lines are kept in the log; the tables are what the bench prints.
    grep -vE '^(Benchmarking |Found [0-9]+ outliers|  [0-9]+ \([0-9.]+%\) (low|high) (mild|severe)|\s*(time|change|thrpt): |No change in performance|Change within noise|Performance has (improved|regressed)|WARNING: Unable to complete|^$)' \
        "$logs/$log.txt" | grep -vE '^[a-z0-9_]+/[a-z0-9_/.-]+(\s*$|\s+time: )' || true
    echo "($name: $(( $(date +%s) - t0 )) s)"
}

if $fleet; then
    bench hotconf-fleet fleet_restart
    # The operator's fleet: `hotconf watch` processes, one follower each (issue 29's own test).
    say "building the CLI (release, every feature) for its fleet"
    cargo build --release --quiet --locked --workspace --all-features --bin hotconf
    BENCH_LOG=fleet_restart_cli HOTCONF_FLEET_KINDS=cli HOTCONF_FLEET_FOLLOWERS=100 \
        HOTCONF_FLEET_OUTAGE=10s HOTCONF_FLEET_CLI="$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/hotconf" \
        bench hotconf-fleet fleet_restart
    say "the fleet ran in $(( $(date +%s) - started )) s (output in $logs/)"
    exit 0
fi

bench hotconf-core store_read criterion
bench hotconf-core reload criterion
bench hotconf-core layered_reload
bench hotconf-core change_latency
bench hotconf-core allocations
bench hotconf-file file_latency
bench hotconf-etcd etcd_latency
bench hotconf-etcd etcd_scale
bench hotconf-consul consul_latency
bench hotconf-consul consul_scale
bench hotconf-nacos nacos_latency
bench hotconf-apollo apollo_latency
bench hotconf-kubernetes kubernetes_latency
bench hotconf-vault vault_latency
bench hotconf-metrics reload_cost criterion
bench hotconf-cli sidecar_latency
bench hotconf-cli rollout_latency

say "all benchmarks ran in $(( $(date +%s) - started )) s (outputs in $logs/)"
