"""graphql-http's GraphQL-over-HTTP audit (`auditServer`, the suite GraphQL Yoga passes) against
a real `usagegraph serve` on the embedded sandbox: every audit ok, no warning, no error
(`make test-http-audit`; graphql-http pinned in tests/http_audit/package-lock.json)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.serve import node_or_skip, serve_usagegraph

pytestmark = pytest.mark.http_audit

HERE = Path(__file__).resolve().parent
AUDIT = HERE / "audit.mjs"
INSTALLED = HERE / "node_modules" / "graphql-http" / "package.json"
# the audits graphql-http 1.23.1 runs against a server (a newer pin may add some)
AUDITS = 61


def test_graphql_http_audit_has_no_warning_and_no_error(tmp_path: Path) -> None:
    node = node_or_skip()
    if not INSTALLED.is_file():
        pytest.fail("tests/http_audit/node_modules is not installed: run `make test-http-audit`")
    with serve_usagegraph(tmp_path / "usagegraph.log") as base:
        done = subprocess.run(
            [node, str(AUDIT), f"{base}/graphql"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])

    failed = [r for r in report["results"] if r["status"] != "ok"]
    assert failed == [], json.dumps(failed, indent=2)
    assert report["ok"] == len(report["results"]) >= AUDITS
