#!/usr/bin/env bash
# The package gate of scripts/test.sh: `cargo package` for every publishable crate (every
# workspace member without `publish = false`), then each crate built alone from its packaged
# form, as crates.io would build it: the `.crate` file unpacked outside the workspace, its
# normalized Cargo.toml (no workspace inheritance, no path dependencies) and its Cargo.lock,
# default features. A hotconf crate it depends on comes from that crate's own `.crate`, since
# none is published yet.
#
# Why not cargo's own verification (`cargo package` without --no-verify)? It serves the
# unpublished workspace crates from a local registry overlay and caches them by name and
# version, the first copy unpacked into $CARGO_HOME/registry/src and built once in the build
# directory. After a change to hotconf-core, hotconf-file would be verified against the
# hotconf-core packaged the first time the gate ran: tried with cargo 1.95, a function added to
# hotconf-core and called from hotconf-metrics failed the verification of hotconf-metrics with
# "cannot find function". Here each packaged hotconf crate is a [patch] path dependency, which
# cargo checks by its files' modification times, and a crate is unpacked again (touched, so
# rebuilt with everything built on it) only when its `.crate` file changed (the files are
# deterministic).
#
# Cost on 2 cores: the builds share the target directory, so a third-party crate is built once
# per feature set, not once per crate, and kept. The first run after the workspace's own build
# takes about 6 minutes (each crate alone unifies fewer features than the workspace, so many
# dependencies are built again); then about 40 s when nothing changed (packaging 13 crates) and
# about 75 s after a change to hotconf-core (it and every crate built on it again). That is cheap
# enough to build (not only check) every crate with its default features, as cargo's own
# verification would.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
# Outside the repository (cargo would take a crate under it for a stray workspace member), one
# directory per checkout, kept between runs so an unchanged crate is not built again.
unpacked="${TMPDIR:-/tmp}/hotconf-package-$(printf '%s' "$PWD" | sha256sum | cut -c1-12)"
mkdir -p "$unpacked"

mapfile -t crates < <(cargo metadata --format-version 1 --locked --no-deps | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    if package["publish"] != []:  # `publish = false` reads as an empty list of registries
        print(package["name"], package["version"])
')

# --no-metadata: no homepage, documentation or repository exists yet (docs.rs is the default).
# --allow-dirty: the gate runs before a change is committed.
specs=()
for crate in "${crates[@]}"; do specs+=(--package "${crate% *}"); done
cargo package --quiet --locked --no-metadata --allow-dirty --no-verify "${specs[@]}"

for crate in "${crates[@]}"; do
    dir="${crate% *}-${crate#* }"
    file="$target/package/$dir.crate"
    sum="$(sha256sum "$file" | cut -d' ' -f1)"
    if [ ! -d "$unpacked/$dir" ] || [ "$(cat "$unpacked/$dir.sha256" 2>/dev/null)" != "$sum" ]; then
        rm -rf "${unpacked:?}/$dir"
        tar --extract --gzip --touch --file "$file" --directory "$unpacked"
        echo "$sum" >"$unpacked/$dir.sha256"
    fi
done

for crate in "${crates[@]}"; do
    name="${crate% *}"
    dir="$unpacked/$name-${crate#* }"
    # The hotconf crates its Cargo.lock names (itself aside), each from its packaged form.
    patches=()
    for dep in "${crates[@]}"; do
        if [ "${dep% *}" != "$name" ] && grep -qx "name = \"${dep% *}\"" "$dir/Cargo.lock"; then
            patches+=(--config "patch.crates-io.${dep% *}.path=\"$unpacked/${dep% *}-${dep#* }\"")
        fi
    done
    echo "  $name (from its .crate${patches[*]:+, with $(( ${#patches[@]} / 2 )) packaged hotconf crates})"
    # Not --locked: the patches replace the hotconf entries of the lock file, nothing else.
    cargo build --quiet --offline --manifest-path "$dir/Cargo.toml" --target-dir "$target" \
        "${patches[@]}"
done
