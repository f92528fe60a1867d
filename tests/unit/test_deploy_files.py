"""The server deployment files (infra/deploy/) hold together.

No container engine runs here, so nothing is started: the compose file, the Helm values,
the Dockerfile and the dependency lock are parsed and checked for what the deployment
relies on (services, images, queues, health checks, start order, shared volumes, secrets
only from files), and the two scripts that handle secrets are run for real.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "infra" / "deploy"

AIRFLOW_SERVICES = {"airflow-init", "api-server", "scheduler", "dag-processor", "triggerer",
                    "worker-ingest", "worker-build"}
LONG_RUNNING = {"postgres", "redis", "api-server", "scheduler", "dag-processor", "triggerer",
                "worker-ingest", "worker-build", "superset"}
PIPELINE_SETTINGS = {"WAREHOUSE_DSN", "LANDING_URI", "ARCHIVE_DIR", "REPORTS_DIR", "GOV_VAR_DIR",
                     "GX_ANALYTICS_ENABLED", "DO_NOT_TRACK"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|HMAC|_KEY$|CONN$|BROKER_URL|RESULT_BACKEND|METADATA_URL",
                         re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"\w+://[^/\s:@]+:[^/\s@]+@")
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution: ${VAR}, ${VAR:-default}; $$ is a literal $."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value
    replaced = _VARIABLE.sub(lambda m: env.get(m.group(1)) or (m.group(2) if m.group(2) is not None else ""),
                             value.replace("$$", "\0"))
    return replaced.replace("\0", "$")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (DEPLOY / "compose.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    return interpolate(yaml.safe_load(compose_text), env={})


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def command(service: dict) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else cmd


# --- compose: services, images, queues ---------------------------------------------------

def test_compose_has_every_component(services):
    assert AIRFLOW_SERVICES | {"postgres", "redis", "superset", "superset-init"} == set(services)
    assert services["superset"]["profiles"] == ["bi"] and services["superset-init"]["profiles"] == ["bi"]
    assert all("profiles" not in services[name] for name in AIRFLOW_SERVICES | {"postgres", "redis"})


def test_images_are_pinned(services):
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: image {image!r} has no pinned tag"
        if name not in AIRFLOW_SERVICES:
            assert re.search(r"\d+\.\d+", tag), f"{name}: {image!r} is not pinned to a version"


def test_airflow_services_run_the_project_image_with_celery(services):
    images = {services[name]["image"] for name in AIRFLOW_SERVICES}
    assert len(images) == 1, images
    for name in AIRFLOW_SERVICES:
        build = services[name]["build"]
        assert (REPO_ROOT / "infra" / "deploy" / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        env = environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert PIPELINE_SETTINGS <= set(env), f"{name} lacks {PIPELINE_SETTINGS - set(env)}"
        assert env["GX_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://api-server:8080/")
    assert command(services["api-server"]).startswith("airflow api-server")
    for name, verb in [("scheduler", "scheduler"), ("dag-processor", "dag-processor"), ("triggerer", "triggerer")]:
        assert command(services[name]) == f"airflow {verb}"


def test_workers_serve_the_two_queues_and_builds_run_one_at_a_time(services):
    ingest, build = command(services["worker-ingest"]), command(services["worker-build"])
    assert ingest.startswith("airflow celery worker") and "--queues ingest" in ingest
    assert build.startswith("airflow celery worker") and "--queues build" in build and "--concurrency 1" in build
    assert str(services["worker-build"]["deploy"]["replicas"]) == "1"
    assert int(services["worker-ingest"]["deploy"]["replicas"]) >= 1
    assert environment(services["worker-ingest"])["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "ingest"


# --- compose: health and start order ------------------------------------------------------

def test_every_long_running_service_has_a_healthcheck_and_restarts(services):
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert services[name].get("restart") == "unless-stopped", f"{name} does not heal after a crash"
    for name in ("airflow-init", "superset-init"):
        assert services[name]["restart"] == "no"


def test_start_order(services):
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency.endswith("-init") else "service_healthy"
            assert condition["condition"] == expected, f"{name} → {dependency}"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert {"postgres", "redis", "airflow-init"} <= set(services[name]["depends_on"]), name
    for name in ("scheduler", "dag-processor", "triggerer", "worker-ingest", "worker-build"):
        assert "api-server" in services[name]["depends_on"], f"{name} must wait for the execution API"


# --- compose: shared files ----------------------------------------------------------------

def test_landing_zone_archive_and_reports_are_shared_volumes(compose, services):
    declared = compose["volumes"]
    for name in ("triggerer", "worker-ingest", "worker-build"):
        env = environment(services[name])
        mounts = dict(reversed(volume.split(":")[:2]) for volume in services[name]["volumes"])
        for setting, volume in [("LANDING_URI", "landing"), ("ARCHIVE_DIR", "archive"), ("REPORTS_DIR", "reports")]:
            assert mounts.get(env[setting]) == volume, f"{name}: {setting}={env[setting]} is not on volume {volume}"
    for volume in ("landing", "archive", "reports"):
        assert set(declared[volume]["driver_opts"]) == {"type", "o", "device"}, "NFS-capable local driver options"
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"volume {source} is not declared"
            elif source.startswith("."):
                assert (DEPLOY / source).exists(), f"{source} does not exist"


# --- compose: secrets -------------------------------------------------------------------

def test_no_secret_is_written_in_the_compose_file(compose_text, services):
    assert not URL_WITH_PASSWORD.search(compose_text), "a URL with a password is written in compose.yaml"
    for name, service in services.items():
        written = [key for key in environment(service)
                   if SECRET_NAME.search(key) and not key.endswith(("_FILE", "_CMD"))]
        assert not written, f"{name}: {written} set in the compose file; read them from secret files instead"


def test_every_secret_comes_from_a_declared_git_ignored_file(compose, services):
    declared = compose["secrets"]
    for name, secret in declared.items():
        assert secret["file"].startswith("./secrets/"), name
    assert "secrets/" in (DEPLOY / ".gitignore").read_text().split()
    for name, service in services.items():
        mounted = set(service.get("secrets", []))
        assert mounted <= set(declared), f"{name} mounts undeclared {mounted - set(declared)}"
        for key, value in environment(service).items():
            if key.endswith("_CMD"):
                assert value.startswith("cat /run/secrets/"), f"{name}: {key}"
            if key.endswith(("_CMD", "_FILE")) and "/run/secrets/" in value:
                secret = value.rsplit("/run/secrets/", 1)[1].split()[0]
                assert secret in mounted, f"{name}: {key} reads {secret}, which is not mounted"


def test_make_secrets_creates_every_declared_file_unreadable_by_others(compose, tmp_path):
    workdir = tmp_path / "deploy"
    workdir.mkdir()
    script = workdir / "make-secrets.sh"
    script.write_text((DEPLOY / "make-secrets.sh").read_text())
    subprocess.run(["bash", str(script)], check=True, capture_output=True, env={**os.environ, "HOME": str(tmp_path)})
    secrets_dir = workdir / "secrets"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    for name, secret in compose["secrets"].items():
        path = workdir / secret["file"]
        assert path.is_file() and path.read_text().strip(), f"{name}: {path} missing or empty"
        assert not stat.S_IMODE(path.stat().st_mode) & 0o222, f"{name} is writable"
    urls = {name: (secrets_dir / name).read_text() for name in ("airflow_metadata_url", "celery_broker_url")}
    assert urls["airflow_metadata_url"].endswith("@postgres:5432/airflow")
    redis_password = re.search(r"^requirepass (\S+)$", (secrets_dir / "redis.conf").read_text(), re.M).group(1)
    assert urls["celery_broker_url"] == f"redis://:{redis_password}@redis:6379/0"
    warehouse_password = (secrets_dir / "warehouse_password").read_text()
    assert (secrets_dir / "warehouse_pgpass").read_text() == f"postgres:5432:warehouse:governance:{warehouse_password}"
    assert len((secrets_dir / "airflow_jwt_secret").read_text()) >= 64
    assert json.loads((secrets_dir / "airflow_admin_passwords.json").read_text())["admin"]
    before = {p.name: p.read_text() for p in secrets_dir.iterdir()}
    subprocess.run(["bash", str(script)], check=True, capture_output=True, env={**os.environ, "HOME": str(tmp_path)})
    assert before == {p.name: p.read_text() for p in secrets_dir.iterdir()}, "a second run must change nothing"


def test_entrypoint_turns_secret_files_into_the_environment_and_a_pgpass(tmp_path):
    key = tmp_path / "pii_hmac_key"
    key.write_text("k3y-from-a-file")
    pgpass = tmp_path / "warehouse_pgpass"
    pgpass.write_text("postgres:5432:warehouse:governance:pw")
    pgpass.chmod(0o444)
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        ["bash", str(DEPLOY / "entrypoint.sh"), "bash", "-c", 'echo "$PII_HMAC_KEY|$PGPASSFILE"'],
        env={"PATH": os.environ["PATH"], "HOME": str(home), "PII_HMAC_KEY_FILE": str(key),
             "WAREHOUSE_PGPASS_FILE": str(pgpass)}, check=True, capture_output=True, text=True)
    assert result.stdout.strip() == f"k3y-from-a-file|{home / '.pgpass'}"
    assert (home / ".pgpass").read_text() == pgpass.read_text()
    assert stat.S_IMODE((home / ".pgpass").stat().st_mode) == 0o600, "libpq ignores a pgpass readable by others"
    missing = subprocess.run(["bash", str(DEPLOY / "entrypoint.sh"), "true"], capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"], "HOME": str(home), "X_FILE": str(tmp_path / "none")})
    assert missing.returncode == 2 and "X_FILE" in missing.stderr


def test_database_init_creates_no_superuser_and_reads_passwords_from_secrets():
    script = (DEPLOY / "postgres-init" / "10-governance.sh").read_text()
    assert "superuser" not in script.lower().replace("none of them is a superuser", "")
    assert not re.search(r"password\s+'", script, re.I), "a literal password in the init script"
    for secret in ("airflow_db_password", "warehouse_password", "superset_db_password"):
        assert f"`cat /run/secrets/{secret}`" in script


# --- image ------------------------------------------------------------------------------

def test_dockerfile_installs_the_pinned_lock_and_runs_unprivileged():
    text = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    assert "--no-deps" in text and "infra/deploy/requirements.txt" in text
    assert re.search(r"^USER 50000$", text, re.M)
    assert "/opt/airflow/config/airflow_local_settings.py" in text
    for source in re.findall(r"^COPY (?:--\S+ )*(\S+) ", text, re.M):
        assert (REPO_ROOT / source).exists(), f"COPY source {source} does not exist"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        assert version, f"{path.name}: {line!r} is not pinned"
        pins[re.sub(r"\[.*\]", "", name).lower()] = version.split(";")[0].strip()
    return pins


def test_image_lock_is_the_project_lock_plus_celery():
    project, image = _pins(REPO_ROOT / "requirements.txt"), _pins(DEPLOY / "requirements.txt")
    changed = {name: (version, image.get(name)) for name, version in project.items() if image.get(name) != version}
    assert not changed, f"the image would run other versions than the tests: {changed}"
    assert {"apache-airflow-providers-celery", "celery", "redis"} <= set(image)


# --- Helm values ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def helm_values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def test_helm_values_celery_external_services_and_secrets_by_name(helm_values):
    assert helm_values["executor"] == "CeleryExecutor"
    assert helm_values["postgresql"]["enabled"] is False and helm_values["redis"]["enabled"] is False
    data = helm_values["data"]
    assert {"metadataSecretName", "resultBackendSecretName", "brokerUrlSecretName"} <= set(data)
    assert not {"metadataConnection", "resultBackendConnection", "brokerUrl"} & set(data), "connections as literals"
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName"):
        assert helm_values[key], key
    for key in ("fernetKey", "webserverSecretKey", "apiSecretKey", "jwtSecret"):
        assert key not in helm_values, f"{key} would put a secret in the values"
    args = " ".join(helm_values["workers"]["args"])
    assert "airflow celery worker" in args and "--queues ingest,build" in args
    assert helm_values["config"]["operators"]["default_queue"] == "ingest"
    assert helm_values["airflowLocalSettings"] is None, "the image's queue policy must not be replaced"


def test_helm_values_write_no_secret(helm_values):
    text = (DEPLOY / "helm" / "values.yaml").read_text()
    assert not URL_WITH_PASSWORD.search(text)
    env = {item["name"]: item["value"] for item in helm_values["env"]}
    assert PIPELINE_SETTINGS <= set(env)
    assert not [name for name in env if SECRET_NAME.search(name) and not name.endswith("_FILE")]
    assert {s["envName"] for s in helm_values["secret"]} == {"PII_HMAC_KEY"}
    mounted = {m["mountPath"] for m in helm_values["volumeMounts"]}
    assert env["WAREHOUSE_PGPASS_FILE"].rsplit("/", 1)[0] in mounted
    assert Path(env["LANDING_URI"]).parent.as_posix() in mounted
    claims = [v for v in helm_values["volumes"] if "persistentVolumeClaim" in v]
    assert claims, "the landing zone must be a shared (ReadWriteMany) claim"
