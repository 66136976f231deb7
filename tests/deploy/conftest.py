"""The manifests as Kubernetes reads them (PyYAML comes with the `deploy` extra), and the config
loaded the way the pods load it: with the Secret's keys as environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.layout import CONFIG, KUBERNETES
from tests.fixtures.manifests import find
from usagegraph.auth import hash_key
from usagegraph.settings import Settings, load_settings


def load_documents(path: Path) -> list[dict[str, Any]]:
    import yaml  # the deploy extra; the modules that use it skip without it

    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@pytest.fixture(scope="session")
def kustomization() -> dict[str, Any]:
    return load_documents(KUBERNETES / "kustomization.yaml")[0]


@pytest.fixture(scope="session")
def manifests(kustomization: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource kustomization.yaml applies, in its order."""
    return [doc for name in kustomization["resources"] for doc in load_documents(KUBERNETES / name)]


@pytest.fixture(scope="session")
def secret_environment(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """The Secret's keys with stand-in values a real Secret could hold (hashes are 64 hex)."""
    keys = find(manifests, "Secret", "usagegraph-secrets")["stringData"]
    return {
        key: hash_key(f"stand-in {key}") if key.endswith("_SHA256") else f"stand-in-{key.lower()}"
        for key in keys
    }


@pytest.fixture(scope="session")
def deployed_settings(secret_environment: dict[str, str]) -> Settings:
    """usagegraph.toml loaded by usagegraph's own loader, as `serve --config` loads it."""
    return load_settings(CONFIG, environ=secret_environment)
