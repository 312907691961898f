"""Real spark-submit, and a real standalone Spark cluster on loopback, for the tests and the benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyspark
from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SPARK_HOME = Path(pyspark.__file__).parent


def package_zip(folder: Path) -> Path:
    """The package as a zip for --py-files, as a user ships it to a cluster."""
    target = folder / "retrain_advisor.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in (ROOT / "lib" / "retrain_advisor").rglob("*.py"):
            archive.write(path, path.relative_to(ROOT / "lib"))
    return target


def submit_command(master: str, config_file: Path, run_id: str, *extra: str) -> list[str]:
    delta = configure_spark_with_delta_pip(SparkSession.builder)._options["spark.jars.packages"]
    return [
        str(BIN / "spark-submit"),
        "--master",
        master,
        "--packages",
        delta,
        "--conf",
        "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
        "--conf",
        "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "--conf",
        f"spark.pyspark.python={sys.executable}",
        "--conf",
        "spark.executorEnv.OMP_NUM_THREADS=1",
        *extra,
        str(ROOT / "jobs" / "analyze.py"),
        "--config",
        str(config_file),
        "--run-id",
        run_id,
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }


@dataclass
class StandaloneCluster:
    """A master and workers started from the installed pyspark, bound to 127.0.0.1.

    Each server runs in its own process group, so stopping a worker also stops the executors
    it launched.
    """

    folder: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *args],
            env=_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start(self) -> StandaloneCluster:
        self._start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--webui-port",
            str(free_port()),
        )
        self._wait_for(lambda: _listening(self.port), "the master")
        for i in range(self.workers):
            self._start(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                self.url,
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "2g",
                "--webui-port",
                str(free_port()),
                "--work-dir",
                str(self.folder / f"work{i}"),
            )
        self._wait_for(lambda: self._registered() >= self.workers, "the workers")
        return self

    def _registered(self) -> int:
        text = (self.folder / "master.log").read_text()
        return text.count("Registering worker")

    def _wait_for(self, ready, what: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            if time.monotonic() > deadline:
                logs = {p.name: p.read_text()[-2000:] for p in self.folder.glob("*.log")}
                raise TimeoutError(f"{what} did not start in {seconds} s: {logs}")
            time.sleep(0.5)

    def kill_worker(self, index: int) -> None:
        """SIGKILL a worker and the executors it started."""
        os.killpg(self.processes[1 + index].pid, signal.SIGKILL)

    def stop(self) -> None:
        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
