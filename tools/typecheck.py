"""Run mypy over the installed layout: `usagegraph.schema` and friends, not the folders' own names.

pyproject.toml maps schema/, resolvers/, clients/ and sandbox/ under `usagegraph.` (setuptools
package-dir). The editable install does that with an import hook, which mypy never runs, so this
script mirrors the mapping as a tree of symlinks in build/typecheck/ (git-ignored; rebuilt on every
run, so new modules are seen) and checks it from there. Error paths are rewritten back to the
repository's own (`schema/entities.py:12: error: ...`) so editors and humans can open them.

Usage: python tools/typecheck.py [extra mypy options]; `make typecheck` runs it over usagegraph,
bench and fleet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"
# Repository packages that import the installed one, linked beside it so that
# `tools/typecheck.py -p bench` can check them too (not yet clean, so not checked by default).
EXTRA_PACKAGES = ("bench", "fleet")


def package_dirs() -> dict[str, str]:
    """The `[tool.setuptools.package-dir]` mapping: import name -> repository folder."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        config = tomllib.load(file)
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return mapping


def link(target: Path, at: Path) -> None:
    """A relative symlink, so the tree stays valid if the checkout moves."""
    at.symlink_to(os.path.relpath(target, at.parent), target_is_directory=target.is_dir())


def build_tree(mapping: dict[str, str]) -> dict[str, str]:
    """Lay out the installed import tree; returns tree path prefix -> repository path prefix."""
    for name in (*{key.split(".")[0] for key in mapping}, *EXTRA_PACKAGES):
        stale = TREE / name
        if stale.is_symlink():
            stale.unlink()
        elif stale.exists():
            shutil.rmtree(stale)  # holds only symlinks, which rmtree removes without following
    TREE.mkdir(parents=True, exist_ok=True)
    rewrites: dict[str, str] = {}
    # Roots first: a mapped sub-package is linked inside its root's real folder.
    for name, folder in sorted(mapping.items(), key=lambda item: item[0].count(".")):
        source = ROOT / folder
        where = TREE.joinpath(*name.split("."))
        if "." not in name:
            where.mkdir()
            mapped_children = {key.split(".")[1] for key in mapping if key.startswith(name + ".")}
            for entry in source.iterdir():
                if entry.name not in mapped_children and entry.name != "__pycache__":
                    link(entry, where / entry.name)
        else:
            link(source, where)
        rewrites[where.relative_to(TREE).as_posix() + "/"] = folder + "/"
    for name in EXTRA_PACKAGES:
        link(ROOT / name, TREE / name)
    return rewrites


def repository_path(line: str, rewrites: dict[str, str]) -> str:
    """`usagegraph/schema/x.py:3: ...` -> `schema/x.py:3: ...`; the longest prefix wins."""
    for prefix in sorted(rewrites, key=len, reverse=True):
        if line.startswith(prefix):
            return rewrites[prefix] + line[len(prefix) :]
    return line


def main(argv: list[str]) -> int:
    mapping = package_dirs()
    rewrites = build_tree(mapping)
    # the product, the benchmarks and the local fleet (which import it, and whose figures the
    # docs quote)
    roots = sorted({key.split(".")[0] for key in mapping} | set(EXTRA_PACKAGES))
    targets = [arg for name in roots for arg in ("-p", name)]
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        *targets,
        *argv,
    ]
    with subprocess.Popen(command, cwd=TREE, stdout=subprocess.PIPE, text=True) as mypy:
        assert mypy.stdout is not None  # stdout=PIPE always gives a stream
        for line in mypy.stdout:
            sys.stdout.write(repository_path(line, rewrites))
    return mypy.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
