#!/usr/bin/env python3
"""The MSRV check of scripts/test.sh: no publishable crate declares a `rust-version` lower than
what a crate it depends on declares in Cargo.lock.

A crate's dependency graph is read from `cargo metadata --locked --all-features` (the versions
the lock file pins, every optional dependency, every target platform), following normal and
build dependencies only: dev-dependencies are not built by the crate's users. The check fails
naming each crate whose `rust-version` is too low, the dependencies that need more, the version
they need and the path that reaches them. On success it prints the true minimum: the highest
`rust-version` in the publishable crates' graphs.

Run from the repository's root: `python3 scripts/msrv.py`. For scripts/test.sh's build with
that toolchain, `--declared` prints the rust-version the publishable crates declare (one for
all, or an error) and `--packages` prints them as `--package NAME` arguments.
"""

import json
import subprocess
import sys
from collections import deque


def version_key(version):
    """`1.85` and `1.85.0` compare equal; `1.89` is above `1.88.3`."""
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def graph():
    """(packages by id, resolved nodes by id, ids of the publishable workspace members)."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    metadata = json.loads(out)
    packages = {package["id"]: package for package in metadata["packages"]}
    nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
    # `publish = false` reads as an empty list of registries; absent reads as null.
    publishable = [
        member
        for member in metadata["workspace_members"]
        if packages[member]["publish"] != []
    ]
    return packages, nodes, publishable


def dependencies(root, nodes):
    """Every crate `root` builds with (normal and build dependencies, transitively), each with
    the path from `root` that reaches it first."""
    paths = {root: [root]}
    queue = deque([root])
    while queue:
        current = queue.popleft()
        for dep in nodes[current]["deps"]:
            kinds = {kind["kind"] for kind in dep["dep_kinds"]}
            if not kinds & {None, "build"} or dep["pkg"] in paths:
                continue
            paths[dep["pkg"]] = paths[current] + [dep["pkg"]]
            queue.append(dep["pkg"])
    del paths[root]
    return paths


def main():
    packages, nodes, publishable = graph()
    name = lambda id: f"{packages[id]['name']} {packages[id]['version']}"
    route = lambda path: " -> ".join(packages[id]["name"] for id in path)
    undeclared = []
    too_low = []  # (crate, its rust-version, the highest version its dependencies need)
    needs = {}  # dependency id -> (version it needs, shortest path from a publishable crate)
    for member in sorted(publishable, key=lambda id: packages[id]["name"]):
        declared = packages[member]["rust_version"]
        if declared is None:
            undeclared.append(name(member))
            continue
        most = None
        for dep, path in dependencies(member, nodes).items():
            needed = packages[dep]["rust_version"]
            if needed is None:
                continue
            if dep not in needs or len(path) < len(needs[dep][1]):
                needs[dep] = (needed, path)
            if version_key(needed) > version_key(declared) and (
                most is None or version_key(needed) > version_key(most)
            ):
                most = needed
        if most is not None:
            too_low.append((member, declared, most))
    if not any(dep not in publishable for dep in needs):
        print("no dependency declares a rust-version")
        return
    # The true minimum: the highest version an outside crate needs (the workspace's own crates
    # declare what they are given).
    outside = {dep: need for dep, need in needs.items() if dep not in publishable}
    highest = max(version_key(needed) for needed, _ in outside.values())
    top = sorted(
        (dep for dep, (needed, _) in outside.items() if version_key(needed) == highest),
        key=lambda id: packages[id]["name"],
    )
    minimum = needs[top[0]][0]
    if undeclared or too_low:
        print("error: a crate's rust-version is lower than its dependencies need", file=sys.stderr)
        for crate in undeclared:
            print(f"  {crate} declares no rust-version", file=sys.stderr)
        for member, declared, most in too_low:
            print(f"  {name(member)} declares {declared}; its dependencies need {most}", file=sys.stderr)
        floor = min((version_key(declared) for _, declared, _ in too_low), default=None)
        print("the dependencies that need more (highest first):", file=sys.stderr)
        for dep, (needed, path) in sorted(
            needs.items(), key=lambda item: (version_key(item[1][0]), packages[item[0]]["name"]), reverse=True
        ):
            if floor is not None and version_key(needed) <= floor:
                break
            print(f"  {name(dep)} needs {needed} (via {route(path)})", file=sys.stderr)
        print(
            f"(set rust-version = \"{minimum}\" in Cargo.toml's [workspace.package], or pin older "
            "versions of those dependencies in Cargo.lock)",
            file=sys.stderr,
        )
        sys.exit(1)
    print(
        f"every publishable crate's rust-version covers its dependencies; the highest needed is "
        f"{minimum}: "
        + ", ".join(f"{name(dep)} (via {route(needs[dep][1])})" for dep in top)
    )


def declared():
    packages, _, publishable = graph()
    versions = {packages[id]["rust_version"] for id in publishable}
    if len(versions) != 1 or None in versions:
        sys.exit(f"error: the publishable crates declare different rust-versions: {versions}")
    print(versions.pop())


def package_arguments():
    packages, _, publishable = graph()
    for id in sorted(publishable, key=lambda id: packages[id]["name"]):
        print(f"--package={packages[id]['name']}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--declared"]:
        declared()
    elif sys.argv[1:] == ["--packages"]:
        package_arguments()
    elif sys.argv[1:]:
        sys.exit("usage: scripts/msrv.py [--declared | --packages]")
    else:
        main()
