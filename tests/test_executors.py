"""The executors a deployment chooses (PADU_EXECUTOR) and the production examples in deploy/:
the settings files load into the executors and run launcher they name, as Dagster would
load them; the multiprocess executor runs a region here."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import kombu
import pytest
import yaml
from conftest import postgres_database
from ops_helpers import content_hashes

from pipelines.cli import run_pipeline
from pipelines.definitions import defs
from pipelines.executors import ExecutorSettingsError, choose_executor

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
EXECUTORS = DEPLOY / "executors"
POSTGRES = "postgresql+psycopg2://padu@db.example:5432/padu"  # never connected to
BROKER = "pyamqp://padu:not-a-secret@rabbitmq.example:5672//"


def _resolved(executor: dg.ExecutorDefinition) -> dict[str, Any]:
    """The executor's settings as a run of the sync job would get them."""

    @dg.op
    def step() -> None: ...

    @dg.job(executor_def=executor)
    def probe() -> None:
        step()

    return dg.validate_run_config(probe, {})["execution"][executor.name]


def test_steps_run_in_the_runs_process_by_default():
    job = defs.resolve_job_def("sync_region")
    assert job.executor_def.name == "in_process"
    assert choose_executor(None, None, "duckdb:///w.duckdb") is dg.in_process_executor


def test_multiprocess_settings_here():
    executor = choose_executor(
        "multiprocess", str(EXECUTORS / "multiprocess.yaml"), "duckdb:///w.duckdb"
    )
    settings = _resolved(executor)
    assert settings["max_concurrent"] == 2
    assert settings["start_method"] == {
        "forkserver": {"preload_modules": ["pipelines.definitions"]}
    }


def test_celery_settings_serve_the_code_location_and_the_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("PADU_CELERY_BROKER_URL", BROKER)
    path = EXECUTORS / "celery.yaml"
    executor = choose_executor("celery", str(path), POSTGRES)
    assert executor.name == "celery"
    assert _resolved(executor)["broker"] == BROKER  # from the environment, not the file
    assert "not-a-secret" not in path.read_text()

    # `dagster-celery worker start -y FILE` turns the same file into the workers' Celery
    # settings (a module on the worker's path).
    from dagster_celery.cli import get_config_dir

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    worker_settings: dict[str, Any] = {}
    exec((Path(get_config_dir(str(path))) / "dagster_celery_config.py").read_text(),
         worker_settings)  # fmt: skip
    assert worker_settings["broker_url"] == BROKER
    assert worker_settings["task_default_queue"] == "padu"
    assert worker_settings["worker_max_tasks_per_child"] == 1


def test_kubernetes_step_settings_name_steps_of_the_sync_job():
    executor = choose_executor("k8s", str(EXECUTORS / "k8s.yaml"), POSTGRES)
    settings = _resolved(executor)
    assert settings["job_namespace"] == "padu" and settings["max_concurrent"] == 3
    steps = {node.name for node in defs.resolve_job_def("sync_region").nodes}
    assert set(settings["per_step_k8s_config"]) <= steps  # e.g. linked_residents


@pytest.mark.parametrize(
    ("name", "settings", "warehouse", "complaint"),
    [
        ("dask", None, POSTGRES, "unknown executor 'dask'"),
        ("celery", "k8s.yaml", POSTGRES, "not settings of the celery executor"),
        ("multiprocess", "celery.yaml", POSTGRES, "not settings of the multiprocess executor"),
        ("celery", "celery.yaml", "duckdb:///w.duckdb", "cannot share an embedded DuckDB file"),
        ("k8s", None, "duckdb:///w.duckdb", "PostgreSQL warehouse"),
    ],
)
def test_executor_settings_that_do_not_fit_are_refused(name, settings, warehouse, complaint):
    path = str(EXECUTORS / settings) if settings else None
    with pytest.raises(ExecutorSettingsError, match=re.escape(complaint)):
        choose_executor(name, path, warehouse)


def test_executor_settings_file_must_be_run_config(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("max_concurrent: 2\n")
    with pytest.raises(ExecutorSettingsError, match=r"execution: config"):
        choose_executor("multiprocess", str(path), POSTGRES)


def test_a_wrong_executor_setting_stops_the_code_location_loading(tmp_path):
    """Dagster refuses to load padu's definitions rather than run with settings it ignores."""
    env = {**os.environ, "PADU_EXECUTOR": "k8s", "PADU_WAREHOUSE_URL": "duckdb:///w.duckdb"}
    result = subprocess.run(
        [sys.executable, "-c", "import pipelines.definitions"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ExecutorSettingsError" in result.stderr and "embedded DuckDB" in result.stderr


@pytest.mark.postgres
def test_kubernetes_instance_launches_each_region_as_a_job_of_its_own(
    tmp_path, postgres_url, monkeypatch
):
    """deploy/dagster-k8s.yaml, loaded as the cluster's instance: runs queue one per region,
    and the run launcher turns a region's run into the Kubernetes Job it would create."""
    import dagster_k8s.launcher
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.launcher import LaunchRunContext

    shutil.copy(DEPLOY / "dagster-k8s.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    # Outside a cluster there is no service account to read; nothing else is replaced.
    loaded: list[dict[str, Any]] = []
    monkeypatch.setattr(
        dagster_k8s.launcher, "load_kubernetes_config", lambda **k: loaded.append(k)
    )

    class Cluster:
        jobs: list[tuple[Any, str]] = []

        def create_namespaced_job_with_retries(self, body: Any, namespace: str) -> None:
            self.jobs.append((body, namespace))

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 8
        assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True},
                "limit": 1} in queue.tag_concurrency_limits  # fmt: skip
        launcher = instance.run_launcher
        assert type(launcher).__name__ == "K8sRunLauncher"
        assert loaded == [{"load_incluster_config": True, "kubeconfig_file": None,
                           "k8s_api_ssl_ca_cert_file": None}]  # fmt: skip
        cluster = Cluster()
        launcher._api_client = cluster  # type: ignore[attr-defined]

        code = ReconstructableRepository.for_module(
            "pipelines.definitions", "defs", working_directory=str(ROOT),
            container_image="registry.example/padu:1.0",
        )  # fmt: skip
        origin = code.get_reconstructable_job("sync_region").get_python_origin()
        run = instance.create_run_for_job(
            defs.resolve_job_def("sync_region"), job_code_origin=origin,
            tags={"dagster/partition": "6309"},
        )  # fmt: skip
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))

    [(job, namespace)] = cluster.jobs
    assert namespace == "padu"
    manifest = job.to_dict()
    pod = manifest["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "registry.example/padu:1.0"
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    assert (
        run.run_id in container["args"][3]
        and '"module": "pipelines.definitions"' in (container["args"][3])
    )
    sources = {(s["config_map_ref"] or s["secret_ref"])["name"] for s in container["env_from"]}
    assert sources == {"padu-settings", "padu-secrets"}
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "4Gi"}
    mounts = {m["name"]: (m["mount_path"], m["read_only"]) for m in container["volume_mounts"]}
    assert mounts == {"landing": ("/srv/padu/landing", None),
                      "pseudonym-key": ("/etc/padu/key", True)}  # fmt: skip
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["landing"]["persistent_volume_claim"]["claim_name"] == "padu-landing"
    assert volumes["pseudonym-key"]["secret"]["secret_name"] == "padu-pseudonym-key"
    assert pod["service_account_name"] == "padu-runs"
    assert manifest["metadata"]["labels"]["app.kubernetes.io/part-of"] == "padu"


def test_multiprocess_executor_runs_a_region_as_the_run_in_one_process_does(tmp_path, generated):
    """The sync job with each step in a process of its own (deploy/executors/multiprocess.yaml)
    on an embedded DuckDB warehouse: the steps take turns writing, and the tables are those
    of a run whose steps all ran in one process."""
    landing = tmp_path / "landing"
    generated(landing, region="6309", people=200, seed=9)
    in_one = f"duckdb:///{tmp_path / 'in_one.duckdb'}"
    assert run_pipeline(landing, in_one, "6309", echo=lambda _: None)

    (tmp_path / "dagster_home").mkdir()
    several = f"duckdb:///{tmp_path / 'several.duckdb'}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PADU_LANDING": str(landing),
        "PADU_WAREHOUSE_URL": several,
        "PADU_EXECUTOR": "multiprocess",
        "PADU_EXECUTOR_CONFIG": str(EXECUTORS / "multiprocess.yaml"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "pipelines.definitions",
         "--select", "*", "--partition", "6309"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr
    # "... - <run id> - <pid> - <step> - STEP_START - ..."
    starts = re.findall(r" - (\d+) - (\w+) - STEP_START ", result.stderr)
    # "*" selects the region's steps and the (unpartitioned) cross-region pass.
    assert len(starts) == len(defs.resolve_job_def("sync_region").nodes) + 1
    assert len({pid for pid, _ in starts}) > 1, "every step ran in one process"
    assert content_hashes(several) == content_hashes(in_one)


@pytest.mark.postgres
@pytest.mark.celery
def test_celery_workers_run_a_region_as_the_run_in_one_process_does(
    tmp_path, postgres_url, celery_broker_url, generated
):
    """A real Celery worker, started as deploy/executors/celery.yaml says, runs every step of
    a region's run; the tables are those of a run whose steps all ran in one process."""
    landing = tmp_path / "landing"
    generated(landing, region="6309", people=200, seed=9)
    reference = postgres_database()
    in_one = next(reference)
    try:
        assert run_pipeline(landing, in_one, "6309", echo=lambda _: None)
        expected = content_hashes(in_one)
    finally:
        reference.close()

    # The deploy file, with a queue of this test's own on the shared broker, and worker
    # processes kept from step to step (a new one per step imports padu again: ~35 s here).
    queue = f"padu-test-{uuid.uuid4().hex[:8]}"
    settings = yaml.safe_load((EXECUTORS / "celery.yaml").read_text())
    celery_settings = settings["execution"]["config"]["config_source"]
    celery_settings["task_default_queue"] = queue
    del celery_settings["worker_max_tasks_per_child"]
    settings_file = tmp_path / "celery.yaml"
    settings_file.write_text(yaml.safe_dump(settings))
    (tmp_path / "dagster_home").mkdir()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PADU_LANDING": str(landing),
        "PADU_WAREHOUSE_URL": postgres_url,
        "PADU_EXECUTOR": "celery",
        "PADU_EXECUTOR_CONFIG": str(settings_file),
        "PADU_CELERY_BROKER_URL": celery_broker_url,
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [str(bin_dir / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
             "-y", str(settings_file), "-q", queue],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # the worker's own processes go with it
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        result = subprocess.run(
            [sys.executable, "-m", "dagster", "asset", "materialize", "-m",
             "pipelines.definitions", "--select", "*", "--partition", "6309"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        with kombu.Connection(celery_broker_url) as broker:
            broker.default_channel.queue_delete(queue)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr
    steps = len(defs.resolve_job_def("sync_region").nodes) + 1  # and the cross-region pass
    assert result.stderr.count(f'to queue "{queue}"') == steps
    assert len(re.findall(r"Task execute_plan\[[-\w]+\] succeeded", log.read_text())) == steps
    assert content_hashes(postgres_url) == expected
