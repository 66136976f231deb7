"""Test modules stand alone: what several share lives in tests/fixtures (registered in
tests/conftest.py), never in another test module or a conftest, so moving, renaming or running one
test file on its own cannot break another."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an `import` or `from ... import` names, relative ones included (their
    dots kept), with the names a `from` import takes (they may be modules too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def shared_from_a_test_module(module: str) -> bool:
    parts = [part for part in module.split(".") if part]
    is_tests = module.startswith(".") or (parts and parts[0] == "tests")
    return bool(is_tests) and any(p.startswith("test_") or p == "conftest" for p in parts)


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        if "node_modules" not in path.parts
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if shared_from_a_test_module(module)
    ]
    assert offending == []


def test_the_check_sees_each_way_of_importing_one() -> None:
    sources = [
        "from tests.schema.test_batching import warm",
        "from tests.schema import test_batching",
        "import tests.resolvers.test_cache",
        "from .test_cache import Clock",
        "from tests.resolvers.conftest import redis_url",
    ]
    for source in sources:
        assert any(shared_from_a_test_module(m) for _, m in imported_modules(ast.parse(source)))
    fine = "from tests.fixtures.cached_graph import serving\nfrom usagegraph import test_mode"
    assert not any(shared_from_a_test_module(m) for _, m in imported_modules(ast.parse(fine)))


def test_the_bench_tests_collect_without_the_bench_extra() -> None:
    """`make test` installs only the dev extra: a bench test module that imports psutil (through
    bench.procs) at import time breaks the whole run's collection, as it did twice in CI."""
    script = (
        "import sys; sys.modules['psutil'] = None; import pytest; "
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests/bench']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:]
