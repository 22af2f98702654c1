"""deploy/k8s/ without a cluster: every object valid against the Kubernetes schemas (kubernetes-validate, strict),
and the references the schemas cannot see: probe ports, worker roles, ConfigMap and Secret names, selectors, and
every setting named one that something in the image reads."""

import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
from kubernetes_validate.utils import ValidationError

from infra.worker import ROLES
from tests.deploy_files import K8S, ROOT, containers, kustomization, manifests, objects, option

# The oldest Kubernetes the manifests promise to work on (preStop's `sleep` action is on by default since 1.30),
# and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.32", kubernetes_validate.utils.latest_version())
# Settings a library of the image reads, not our code: the name and the installed package that reads it.
READ_BY_LIBRARIES = {"OTEL_RESOURCE_ATTRIBUTES": "opentelemetry/sdk"}
APP_PACKAGES = ("infra", "commands", "projections", "sagas", "domain", "bench")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_a_valid_kubernetes_object(version: str) -> None:
    found = manifests()

    assert len(found) >= 12
    for file_name, obj in found:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except ValidationError as error:
            pytest.fail(f"{file_name}: {obj['kind']} {obj['metadata']['name']}: {error.message}")


def test_kustomization_lists_every_manifest_in_the_folder() -> None:
    listed = set(kustomization()["resources"])

    assert listed == {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize(
    "break_it, complaint",
    [
        (lambda d: d["spec"].update(replicas="two"), "is not of type 'integer'"),
        (lambda d: containers(d)[0].update(livenesProbe=containers(d)[0].pop("livenessProbe")), "livenesProbe"),
        (lambda d: containers(d)[0]["ports"][0].pop("containerPort"), "'containerPort' is a required property"),
    ],
    ids=["wrong type", "misspelt field", "missing field"],
)
def test_the_validator_refuses_a_broken_deployment(break_it, complaint: str) -> None:  # type: ignore[no-untyped-def]
    deployment = copy.deepcopy(_deployment("streamkeep-worker-commands"))
    break_it(deployment)

    with pytest.raises(ValidationError) as refused:
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
    assert complaint in refused.value.message


def test_each_probe_asks_a_port_the_container_declares_and_a_worker_probes_its_metrics_port() -> None:
    for deployment in objects("Deployment"):
        for container in containers(deployment):
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            probes = [container[k] for k in ("startupProbe", "livenessProbe", "readinessProbe") if k in container]
            assert {"livenessProbe", "readinessProbe"} <= container.keys(), deployment["metadata"]["name"]
            for probe in probes:
                port = probe["httpGet"]["port"]
                number = ports[port] if isinstance(port, str) else port
                assert number in ports.values(), f"{deployment['metadata']['name']} probes undeclared port {port}"
                if container["args"][0] == "worker":
                    assert number == int(option(container["args"], "--metrics-port"))
                else:
                    assert number == int(option(container["args"], "--port"))
            assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
            assert container["readinessProbe"]["httpGet"]["path"].split("?")[0] == "/readyz"


def test_serve_and_each_worker_role_run_in_their_own_deployment_with_a_budget() -> None:
    commands = [containers(d)[0]["args"] for d in objects("Deployment")]
    roles = [option(args, "--role") for args in commands if args[0] == "worker"]

    assert sorted(roles) == sorted(ROLES)
    assert [args[0] for args in commands].count("serve") == 1
    budgeted = {pdb["metadata"]["name"] for pdb in objects("PodDisruptionBudget")}
    assert budgeted == {d["metadata"]["name"] for d in objects("Deployment")}


def test_serve_is_scaled_by_an_autoscaler_that_owns_its_replica_count() -> None:
    (autoscaler,) = objects("HorizontalPodAutoscaler")
    target = autoscaler["spec"]["scaleTargetRef"]

    assert (target["kind"], target["name"]) == ("Deployment", "streamkeep-serve")
    assert "replicas" not in _deployment("streamkeep-serve")["spec"]
    assert 2 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]


def test_every_selector_picks_the_pods_of_a_deployment_and_a_service_their_ports() -> None:
    deployments = objects("Deployment")
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in deployments]
    for deployment in deployments:
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    for obj in objects("PodDisruptionBudget") + objects("Service"):
        selector = obj["spec"]["selector"].get("matchLabels", obj["spec"]["selector"])
        chosen = [d for d, labels in zip(deployments, pods, strict=True) if selector.items() <= labels.items()]
        assert chosen, f"{obj['kind']} {obj['metadata']['name']} selects no pods"
        for port in obj["spec"].get("ports", []):
            for deployment in chosen:
                named = {p["name"] for c in containers(deployment) for p in c["ports"]}
                assert port["targetPort"] in named, f"{obj['metadata']['name']}: {deployment['metadata']['name']}"


def test_every_configmap_and_secret_a_pod_names_is_defined_here_with_the_keys_it_asks() -> None:
    keys = {(o["kind"], o["metadata"]["name"]): _keys(o) for o in objects("ConfigMap") + objects("Secret")}
    for deployment in objects("Deployment"):
        for container in containers(deployment):
            for source in container.get("envFrom", []):
                for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if ref in source:
                        assert (kind, source[ref]["name"]) in keys
            for variable in container.get("env", []):
                for ref, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    wanted = variable.get("valueFrom", {}).get(ref)
                    if wanted:
                        assert wanted["key"] in keys[(kind, wanted["name"])]
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            assert "configMap" not in volume and "secret" not in volume, "no file is mounted from settings"


def test_every_setting_given_is_one_the_image_reads() -> None:
    given = {key for obj in objects("ConfigMap") + objects("Secret") for key in _keys(obj)}
    given |= {v["name"] for d in objects("Deployment") for c in containers(d) for v in c.get("env", [])}
    source = "\n".join(path.read_text() for package in APP_PACKAGES for path in (ROOT / package).rglob("*.py"))
    read_by_us = {name for name in given if f'"{name}"' in source}

    unread = given - read_by_us - READ_BY_LIBRARIES.keys()
    assert not unread, f"settings nothing reads: {sorted(unread)}"
    for name, library in READ_BY_LIBRARIES.items():
        assert name in given and _library_reads(library, name)
    assert {"STREAMKEEP_BACKEND", "KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "STREAMKEEP_LOG_FORMAT"} <= given


def test_the_secret_holds_what_is_secret_and_the_configmap_nothing_of_it() -> None:
    (secret,) = objects("Secret")
    (settings,) = objects("ConfigMap")

    assert {"DATABASE_URL", "STREAMKEEP_API_TOKENS"} <= _keys(secret)
    assert not {key for key in _keys(settings) if re.search("TOKEN|SECRET|PASSWORD|DATABASE_URL|JWT", key)}
    # An admin's token in every pod, or a JWT key anyone reading the placeholder could sign with: neither.
    assert "STREAMKEEP_TOKEN" not in _keys(secret) and not {key for key in _keys(secret) if "JWT" in key}


def test_pods_run_as_a_user_without_privileges_on_a_read_only_root_with_writable_scratch() -> None:
    for deployment in objects("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        assert pod["automountServiceAccountToken"] is False
        scratch = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            mounted = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounted.keys() >= {"/tmp", "/var/lib/streamkeep"} and set(mounted.values()) <= scratch
            assert container["resources"]["requests"] and container["resources"]["limits"]


def _deployment(name: str) -> dict:
    (found,) = [d for d in objects("Deployment") if d["metadata"]["name"] == name]
    return found


def _keys(obj: dict) -> set[str]:
    return set(obj.get("data", {})) | set(obj.get("stringData", {}))


def _library_reads(library: str, name: str) -> bool:
    site = Path(kubernetes_validate.__file__).resolve().parent.parent
    return any(f'"{name}"' in path.read_text(errors="replace") for path in (site / library).rglob("*.py"))
