#!/usr/bin/env bash
# The one test command: installs what is missing (idempotently), then runs every gate:
# fmt, clippy -D warnings on all targets and features, all tests (unit, integration, examples,
# doc tests), rustdoc with warnings denied, and the README's quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# --- toolchain -------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: hotconf needs the Rust toolchain (https://rustup.rs)" >&2
    exit 1
fi
for component in rustfmt clippy; do
    tool=$([ "$component" = rustfmt ] && echo fmt || echo clippy)
    if ! cargo "$tool" --version >/dev/null 2>&1; then
        say "installing the $component component"
        rustup component add "$component"
    fi
done

# --- servers and tools the tests start or build with ----------------------------------------
# protoc builds etcd-client; etcd and etcdctl are the real servers the etcd tests start.
# (Consul has no installable server: its tests run against the test kit's emulator, or against
# a real agent named by HOTCONF_CONSUL_ADDR.)
missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
# curl writes to the Consul emulator in the CLI's end-to-end test, as an operator would.
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# r-nacos is the real Nacos server the Nacos tests start (about 11 minutes to build on 2 cores,
# once: cargo keeps it in ~/.cargo/bin).
if [ "$(rnacos --version 2>/dev/null || true)" != "rnacos 0.8.8" ]; then
    say "installing rnacos 0.8.8"
    cargo install rnacos --locked --version 0.8.8 --quiet
fi
export PATH="$HOME/.cargo/bin:$PATH"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (all targets, all features, -D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

say "cargo test (all crates, examples, doc tests)"
cargo test --workspace --all-features --locked

say "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked --quiet

say "quickstart (the README's main job)"
cargo run --quiet --locked --example quickstart

say "all gates passed"
