"""The wheel installs one import root, `usagegraph`; no module imports a folder by its name.

The repository keeps the design's top-level folders (schema/, resolvers/, clients/, sandbox/);
pyproject.toml maps them under `usagegraph.` so site-packages gains no `schema` (a PyPI project
of that name exists) and a module can never be loaded twice under two names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("schema", "resolvers", "clients", "sandbox")
SOURCE_DIRS = ("usagegraph", *MAPPED, "bench", "fleet", "tools", "tests", "examples", "federation")


def python_files() -> list[Path]:
    found: list[Path] = []
    for folder in SOURCE_DIRS:
        found.extend(p for p in (ROOT / folder).rglob("*.py") if "node_modules" not in p.parts)
    return found


def test_no_module_imports_a_folder_by_its_own_name() -> None:
    offending: list[str] = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offending.extend(
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for name in names
                if name.split(".")[0] in MAPPED
            )
    assert offending == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (built,) = out.glob("usagegraph-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_adds_one_import_root(wheel: zipfile.ZipFile) -> None:
    roots = {name.split("/")[0] for name in wheel.namelist()}
    assert {r for r in roots if not r.endswith(".dist-info")} == {"usagegraph"}


def test_the_mapped_folders_are_in_the_wheel_under_usagegraph(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for module in (
        "usagegraph/schema/__init__.py",
        "usagegraph/resolvers/cache/results.py",
        "usagegraph/resolvers/sources/__init__.py",
        "usagegraph/clients/telzino.py",
        "usagegraph/sandbox/server.py",
        "usagegraph/answers/layer.py",
        "usagegraph/graphiql.html",
        "usagegraph/console.html",
        "usagegraph/py.typed",
    ):
        assert module in names, module
    # every source file of the mapped folders ships
    for folder in MAPPED:
        for path in (ROOT / folder).rglob("*.py"):
            assert f"usagegraph/{path.relative_to(ROOT).as_posix()}" in names, path
