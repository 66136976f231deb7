"""Every manifest `kubectl apply -k deploy/kubernetes` sends, validated offline against the
Kubernetes JSON schemas kubernetes-validate bundles (strict: an unknown or misspelt field fails)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.layout import CONFIG

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="the deploy extra: make deploy-check"
)

# the oldest Kubernetes the manifests support (preStop `sleep` is on by default from 1.30) and
# the newest the validator knows
VERSIONS = ["1.30", kubernetes_validate.latest_version()]


def generated_config_map(kustomization: dict[str, Any]) -> dict[str, Any]:
    """The ConfigMap kustomize generates from usagegraph.toml (before its hash suffix)."""
    (generator,) = kustomization["configMapGenerator"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": generator["name"], "labels": generator["options"]["labels"]},
        "data": {CONFIG.name: CONFIG.read_text(encoding="utf-8")},
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates(
    version: str, manifests: list[dict[str, Any]], kustomization: dict[str, Any]
) -> None:
    checked = []
    for manifest in [*manifests, generated_config_map(kustomization)]:
        where = f"{manifest['kind']}/{manifest['metadata']['name']}"
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{where} against Kubernetes {version}: {path}: {exc.message}")
        checked.append(where)
    assert checked == [
        "Secret/usagegraph-secrets",
        "Deployment/usagegraph-redis",
        "Service/usagegraph-redis",
        "NetworkPolicy/usagegraph-redis",
        "Deployment/usagegraph",
        "Service/usagegraph",
        "HorizontalPodAutoscaler/usagegraph",
        "PodDisruptionBudget/usagegraph",
        "ConfigMap/usagegraph-config",
    ]


def test_the_validator_rejects_a_misspelt_field(manifests: list[dict[str, Any]]) -> None:
    # strict mode is what catches a typo that kubectl would drop silently
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError, match="'replica' was unexpected"):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
