"""deploy/kubernetes fits together: the config the ConfigMap holds loads with the Secret's keys,
and names, ports, labels and paths agree across the manifests, the config and the image."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.layout import (
    CONFIG,
    KUBERNETES,
    config_variables,
    containerfile_stages,
    exec_form,
)
from tests.fixtures.manifests import find
from usagegraph.cli import build_parser
from usagegraph.settings import ConfigError, Settings, load_settings

pytest.importorskip("yaml", reason="the deploy extra: make deploy-check")

Manifests = list[dict[str, Any]]


def api_pod(manifests: Manifests) -> dict[str, Any]:
    return find(manifests, "Deployment", "usagegraph")["spec"]["template"]


def api_container(manifests: Manifests) -> dict[str, Any]:
    (container,) = api_pod(manifests)["spec"]["containers"]
    return container


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_kustomization_applies_every_manifest_of_the_folder(kustomization: dict[str, Any]) -> None:
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    (generator,) = kustomization["configMapGenerator"]
    assert generator["files"] == [CONFIG.name]


def test_config_loads_with_the_secret_and_uses_redis(deployed_settings: Settings) -> None:
    assert deployed_settings.cache.backend == "redis"
    assert deployed_settings.auth is not None  # a non-loopback host needs [auth]
    assert {key.name for key in deployed_settings.auth.keys} == {"dashboards", "operator"}
    assert deployed_settings.server.host == "0.0.0.0"
    assert [s.kind for s in deployed_settings.sources] == ["telzino", "teli", "talkdesk"]


def test_secret_holds_exactly_the_variables_the_config_reads(manifests: Manifests) -> None:
    secret = find(manifests, "Secret", "usagegraph-secrets")
    assert set(secret["stringData"]) == config_variables()
    # every value is a visible placeholder: nothing real is committed
    assert all(value.startswith("REPLACE-") for value in secret["stringData"].values())
    env_from = api_container(manifests)["envFrom"]
    assert env_from == [{"secretRef": {"name": "usagegraph-secrets"}}]


def test_an_unfilled_secret_stops_start_up(manifests: Manifests) -> None:
    # the template's placeholders as the environment: the pods exit 2 with one line, not serve
    placeholders = find(manifests, "Secret", "usagegraph-secrets")["stringData"]
    with pytest.raises(ConfigError, match=r"auth\.keys\[0\]\.sha256: must be a SHA-256 hash"):
        load_settings(CONFIG, environ=placeholders)


def test_ports_agree_with_the_config(manifests: Manifests, deployed_settings: Settings) -> None:
    container = api_container(manifests)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": deployed_settings.server.port}
    service = find(manifests, "Service", "usagegraph")
    (service_port,) = service["spec"]["ports"]
    assert ports[service_port["targetPort"]] == deployed_settings.server.port
    assert selects(service["spec"]["selector"], api_pod(manifests)["metadata"]["labels"])


def test_probes_use_the_health_endpoints(manifests: Manifests) -> None:
    container = api_container(manifests)
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/healthz", "http"),
        "livenessProbe": ("/healthz", "http"),
        "readinessProbe": ("/readyz", "http"),
    }


def test_config_mount_is_where_the_image_command_reads_it(
    manifests: Manifests, kustomization: dict[str, Any]
) -> None:
    pod = api_pod(manifests)["spec"]
    (mount,) = [m for m in api_container(manifests)["volumeMounts"] if m["name"] == "config"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    assert volume["configMap"]["name"] == kustomization["configMapGenerator"][0]["name"]
    argv = exec_form(containerfile_stages()[-1].arguments("CMD")[-1])
    config = build_parser().parse_args(argv).config
    assert str(config) == f"{mount['mountPath']}/{CONFIG.name}"


def test_pod_runs_locked_down(manifests: Manifests) -> None:
    pod = api_pod(manifests)["spec"]
    container = api_container(manifests)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    user = containerfile_stages()[-1].arguments("USER")[-1]
    assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == user
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


def test_shutdown_fits_in_the_grace_period(
    manifests: Manifests, deployed_settings: Settings
) -> None:
    pod = api_pod(manifests)["spec"]
    pause = api_container(manifests)["lifecycle"]["preStop"]["sleep"]["seconds"]
    shutdown = deployed_settings.server.shutdown_timeout_seconds
    assert pause + shutdown < pod["terminationGracePeriodSeconds"]


def test_autoscaler_targets_the_deployment(manifests: Manifests) -> None:
    deployment = find(manifests, "Deployment", "usagegraph")
    hpa = find(manifests, "HorizontalPodAutoscaler", "usagegraph")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "name": "usagegraph",
    }
    assert hpa["minReplicas"] == deployment["spec"]["replicas"] == 3
    # a CPU utilization target needs a CPU request to be a percentage of
    assert api_container(manifests)["resources"]["requests"]["cpu"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]


def test_no_second_of_the_fleet_exceeds_the_vendor_limit_the_config_states(
    deployed_settings: Settings,
) -> None:
    # with Redis the limits are the fleet's (issue 18), outages included: the most the fleet
    # sends a source in one second is its burst plus its rate
    stated = re.search(r"vendor limit: (\d+)\)", CONFIG.read_text(encoding="utf-8"))
    assert stated is not None, "the config states the vendor's limit"
    assert deployed_settings.cache.backend == "redis" and deployed_settings.cache.shared_limits
    for source in deployed_settings.sources:
        assert source.rate_limit_per_second + source.rate_limit_burst <= int(stated[1]), source.name


def test_disruption_budget_keeps_api_pods_and_only_them(manifests: Manifests) -> None:
    pdb = find(manifests, "PodDisruptionBudget", "usagegraph")["spec"]
    selector = pdb["selector"]["matchLabels"]
    assert selects(selector, api_pod(manifests)["metadata"]["labels"])
    redis_pod = find(manifests, "Deployment", "usagegraph-redis")["spec"]["template"]
    assert not selects(selector, redis_pod["metadata"]["labels"])
    replicas = find(manifests, "Deployment", "usagegraph")["spec"]["replicas"]
    assert 1 <= pdb["minAvailable"] < replicas  # a drain can always make progress


def test_redis_is_the_one_the_config_points_at(
    manifests: Manifests, deployed_settings: Settings, secret_environment: dict[str, str]
) -> None:
    assert deployed_settings.cache.url is not None
    url = urlsplit(deployed_settings.cache.url.get_secret_value())
    service = find(manifests, "Service", "usagegraph-redis")
    assert url.hostname == service["metadata"]["name"]
    assert url.port == service["spec"]["ports"][0]["port"]
    assert url.password == secret_environment["REDIS_PASSWORD"]
    redis = find(manifests, "Deployment", "usagegraph-redis")["spec"]["template"]
    assert selects(service["spec"]["selector"], redis["metadata"]["labels"])
    (container,) = redis["spec"]["containers"]
    (password,) = container["env"]
    assert password["valueFrom"]["secretKeyRef"] == {
        "name": "usagegraph-secrets",
        "key": "REDIS_PASSWORD",
    }
    args = container["args"]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    # a cache bounded below the container's memory limit, evicting instead of refusing writes
    maxmemory = re.fullmatch(r"(\d+)mb", args[args.index("--maxmemory") + 1])
    limit = re.fullmatch(r"(\d+)Mi", container["resources"]["limits"]["memory"])
    assert maxmemory and limit and int(maxmemory[1]) < int(limit[1])
    assert args[args.index("--maxmemory-policy") + 1] == "allkeys-lru"


def test_only_api_pods_reach_redis(manifests: Manifests) -> None:
    policy = find(manifests, "NetworkPolicy", "usagegraph-redis")["spec"]
    redis_pod = find(manifests, "Deployment", "usagegraph-redis")["spec"]["template"]
    assert selects(policy["podSelector"]["matchLabels"], redis_pod["metadata"]["labels"])
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert selects(peer["podSelector"]["matchLabels"], api_pod(manifests)["metadata"]["labels"])
    assert not selects(peer["podSelector"]["matchLabels"], redis_pod["metadata"]["labels"])
