"""deploy/: the instance file through Dagster's own config validation, the manifests through the names that
tie them together (a typo in any of them is a deployment that never starts)."""

from __future__ import annotations

import importlib
import re
import shlex
import warnings
from pathlib import Path

import click
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes import ConfigurableClassData, class_from_code_pointer

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SECRET = "shipchips-secrets"
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY", re.I)
INSTANCE_MOUNT = "/opt/dagster/dagster_home"
CLIS = {"dagster": "dagster._cli", "dagster-webserver": "dagster_webserver.cli",
        "dagster-daemon": "dagster._daemon.cli"}


def _instance_yaml() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def _env_refs(node) -> set[str]:
    """Every `{env: NAME}` the instance file reads."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*map(_env_refs, node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*map(_env_refs, node)) if node else set()
    return set()


def _kustomization() -> dict:
    return yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())


def _manifests() -> list[dict]:
    docs = []
    for rel in _kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / rel).read_text()) if d]
    return docs


def _named(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == kind}


def _env_literals() -> dict[str, str]:
    gen = {g["name"]: g for g in _kustomization()["configMapGenerator"]}
    return dict(lit.split("=", 1) for lit in gen["shipchips-env"]["literals"])


def _secret_keys() -> set[str]:
    """The keys deploy/README.md tells the user to put in the Secret."""
    return set(re.findall(r"--from-literal=(\w+)=", (DEPLOY / "README.md").read_text()))


def _pod(name: str) -> dict:
    return _named("Deployment")[name]["spec"]["template"]["spec"]


def _provided_env(container: dict) -> set[str]:
    """The variable names a container gets: its own env, the ConfigMap's literals, the Secret's keys."""
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if source.get("configMapRef", {}).get("name") == "shipchips-env":
            names |= set(_env_literals())
        if source.get("secretRef", {}).get("name") == SECRET:
            names |= _secret_keys()
    return names


def test_dagster_yaml_passes_dagsters_instance_schema():
    config, custom_class = dagster_instance_config(str(DEPLOY))
    assert custom_class is None
    assert list(config["storage"]) == ["postgres"]
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert (config["run_launcher"]["module"], config["run_launcher"]["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert config["compute_logs"]["class"] == "S3ComputeLogManager"


def test_each_configured_class_accepts_its_config(monkeypatch):
    for name in _env_refs(_instance_yaml()):
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else f"test-{name.lower()}")
    config, _ = dagster_instance_config(str(DEPLOY))
    from dagster_postgres import DagsterPostgresStorage

    checked = {"storage": process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])}
    for section in ("run_coordinator", "run_launcher", "compute_logs"):
        cls = class_from_code_pointer(config[section]["module"], config[section]["class"])
        checked[section] = process_config(cls.config_type(), config[section]["config"])
    assert {k: r.errors for k, r in checked.items() if not r.success} == {}
    assert checked["storage"].value["postgres_db"]["password"] == "test-dagster_pg_password"  # read from the env


def test_the_run_queue_limits_one_run_per_partition_and_two_chip_runs(monkeypatch):
    section = _instance_yaml()["run_coordinator"]
    data = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(section["config"]))
    queue = data.rehydrate().get_run_queue_config()
    limits = {(lim["key"], str(lim.get("value"))): lim["limit"] for lim in queue.tag_concurrency_limits}
    assert limits[("dagster/partition", "{'applyLimitPerUniqueValue': True}")] == 1
    assert limits[("shipchips/stage", "chips")] == 2
    from shipchips_dagster.defs.chips.automation import DOWNSTREAM_JOB

    assert DOWNSTREAM_JOB.tags["shipchips/stage"] == "chips"  # the limit's tag is on the runs the sensor launches


def test_the_s3_compute_log_manager_is_built_from_its_config(monkeypatch):
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", "logs-bucket")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    section = _instance_yaml()["compute_logs"]
    manager = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(section["config"])).rehydrate()
    # where a step's log lands: s3://{bucket}/{prefix}/storage/{run}/compute_logs/...
    assert manager._s3_bucket == "logs-bucket"  # noqa: SLF001
    assert manager._resolve_path_for_namespace(["run-1", "compute_logs"]) == [  # noqa: SLF001
        "dagster/compute-logs", "storage", "run-1", "compute_logs"]
    assert manager._region == "eu-west-1" and manager._upload_interval == 30  # noqa: SLF001


def test_every_variable_the_instance_reads_reaches_the_pods_that_load_it():
    needed = _env_refs(_instance_yaml())
    assert {"DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_COMPUTE_LOG_BUCKET"} <= needed
    for name in ("dagster-webserver", "dagster-daemon"):
        [container] = _pod(name)["containers"]
        assert needed <= _provided_env(container), (name, needed - _provided_env(container))
    launcher = _instance_yaml()["run_launcher"]["config"]  # run pods: the same ConfigMap and Secret
    assert launcher["env_config_maps"] == ["shipchips-env"] and launcher["env_secrets"] == [SECRET]
    assert needed <= set(_env_literals()) | _secret_keys()


def test_no_secret_value_is_written_in_any_file():
    assert not [k for k in _env_literals() if SECRET_NAMES.search(k)]
    assert "DAGSTER_PG_PASSWORD" in _secret_keys() and "AISSTREAM_API_KEY" in _secret_keys()
    assert not [d for d in _manifests() if d["kind"] == "Secret"]
    for name, deployment in _named("Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            literal = [e["name"] for e in container.get("env", []) if SECRET_NAMES.search(e["name"]) and "value" in e]
            assert not literal, (name, literal)
    password = _instance_yaml()["storage"]["postgres"]["postgres_db"]["password"]
    assert password == {"env": "DAGSTER_PG_PASSWORD"}


def test_the_names_that_tie_the_manifests_together_exist():
    launcher = _instance_yaml()["run_launcher"]["config"]
    generated = {g["name"]: g for g in _kustomization()["configMapGenerator"]}
    assert launcher["instance_config_map"] in generated
    assert _kustomization()["generatorOptions"]["disableNameSuffixHash"] is True  # the launcher names it exactly
    assert {"dagster.yaml", "workspace.yaml"} == set(generated[launcher["instance_config_map"]]["files"])
    assert launcher["service_account_name"] in _named("ServiceAccount")
    claims = {v["persistentVolumeClaim"]["claimName"] for v in launcher["volumes"] if "persistentVolumeClaim" in v}
    assert claims <= set(_named("PersistentVolumeClaim"))
    # the daemon launches run Jobs: its account is bound to a role that may create them
    binding = _named("RoleBinding")["shipchips-run-launcher"]
    role = _named("Role")[binding["roleRef"]["name"]]
    assert _pod("dagster-daemon")["serviceAccountName"] in {s["name"] for s in binding["subjects"]}
    assert any("batch" in r["apiGroups"] and "jobs" in r["resources"] and "create" in r["verbs"] for r in role["rules"])


def test_the_workspace_points_at_the_code_location_service():
    [entry] = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"]
    server = entry["grpc_server"]
    service = _named("Service")[server["host"]]
    assert server["port"] in {p["port"] for p in service["spec"]["ports"]}
    pod = _named("Deployment")["shipchips-code"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    command = container["command"]
    assert command[command.index("-p") + 1] == str(server["port"])
    assert command[command.index("-m") + 1] == "shipchips_dagster.definitions"


def test_the_collector_is_one_long_running_service_on_the_runs_volume():
    deployment = _named("Deployment")["shipchips-collector"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["shipchips", "collect"]
    [key] = [e for e in container["env"] if e["name"] == "AISSTREAM_API_KEY"]
    assert key["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": "AISSTREAM_API_KEY"}
    # it lands files where the run pods read them: the same claim, mounted at the same path
    launcher = _instance_yaml()["run_launcher"]["config"]
    run_mounts = {m["name"]: m["mountPath"] for m in launcher["volume_mounts"]}
    run_claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
                  for v in launcher["volumes"] if "persistentVolumeClaim" in v}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    assert {claims[n]: p for n, p in mounts.items()} == {run_claims[n]: run_mounts[n] for n in run_claims}
    assert _env_literals()["SHIPCHIPS__DATASET_ROOT"].startswith(next(iter(mounts.values())) + "/")


def _parse(command: list[str]) -> None:
    """Parse a container's command with the real click CLI of that program (raises on a bad option); the
    instance ConfigMap's mount is this folder, the files it is made from."""
    cmd: click.Command = importlib.import_module(CLIS[command[0]]).cli
    name, args = command[0], [a.replace(INSTANCE_MOUNT, str(DEPLOY)) for a in command[1:]]
    while isinstance(cmd, click.Group):
        ctx = cmd.make_context(name, list(args), resilient_parsing=False)
        with warnings.catch_warnings():  # click 8.2 keeps the subcommand there, deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*ctx.protected_args, *ctx.args]
        name, args = rest[0], rest[1:]
        cmd = cmd.get_command(ctx, name)
        assert cmd is not None, f"no subcommand {name!r} in {shlex.join(command)}"
    cmd.make_context(name, list(args), resilient_parsing=False)


@pytest.mark.parametrize("deployment", ["shipchips-code", "dagster-webserver", "dagster-daemon"])
def test_each_dagster_command_parses_with_dagsters_own_cli(deployment):
    pod = _pod(deployment)
    [container] = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if mount["mountPath"] == INSTANCE_MOUNT:
            assert volumes[mount["name"]]["configMap"]["name"] == "shipchips-dagster-instance"
    _parse(container["command"])
    probe = container.get("readinessProbe", {}).get("exec", {}).get("command")
    if probe:
        _parse(probe)


def test_the_image_holds_the_config_the_pods_are_told_to_read():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "config.yaml" in re.search(r"^COPY .*config\.yaml.*$", dockerfile, re.M).group(0)
    assert re.search(r"^WORKDIR /app$", dockerfile, re.M)
    assert _env_literals()["SHIPCHIPS_CONFIG"] == "/app/config.yaml"
    assert "'.[deploy]'" in dockerfile
