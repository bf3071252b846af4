"""A standalone Spark cluster for the tests: one master and two workers, each its own JVM on
127.0.0.1, started from the pyspark package's own launch classes (no Spark download).

The `spark_cluster` fixture starts it once per test session and stops it at the end. Every
JVM gets PR_SET_PDEATHSIG, so a killed pytest takes the cluster with it; the workers' executors
watch their worker and end with it. Executors get little memory (the suite runs on 2 cores).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .ports import free_port

__all__ = ["SparkCluster", "spark_cluster"]

WORKERS = 2


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class SparkCluster:
    master: str  # spark://127.0.0.1:PORT
    ui_port: int  # the master's web UI: /json/ lists workers and applications
    conf_dir: Path  # a SPARK_CONF_DIR whose spark-defaults.conf suits the small workers

    def state(self) -> dict[str, Any]:
        return _state(self.ui_port)

    def env(self) -> dict[str, str]:
        """The environment of a driver (a `build` process) that uses this cluster."""
        return {**os.environ, "SPARK_CONF_DIR": str(self.conf_dir),
                "SPARK_LOCAL_IP": "127.0.0.1"}


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _jvm(root: Path, name: str, main: str, *args: str) -> subprocess.Popen[bytes]:
    home = _spark_home()
    # A worker launches its executors through Spark's launcher, which needs the Scala
    # version (bin/load-spark-env.sh sets it; we start the JVMs without the scripts).
    scala = next((home / "jars").glob("scala-library-*.jar")).stem.split("-")[-1]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_SCALA_VERSION": ".".join(scala.split(".")[:2]),
           "SPARK_LOG_DIR": str(root), "SPARK_WORKER_DIR": str(root / "work")}
    with (root / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            ["java", "-Xmx256m", "-cp", f"{home / 'jars'}/*", main, *args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=root,
            preexec_fn=_die_with_parent)


def _state(ui_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as reply:
        return dict(json.load(reply))


def _alive_workers(ui_port: int) -> int:
    try:
        state = _state(ui_port)
    except OSError:
        return 0
    return sum(worker.get("state") == "ALIVE" for worker in state.get("workers", []))


def _defaults(root: Path) -> Path:
    """spark-defaults.conf, read by the driver's spark-submit: small executors, few
    partitions (Spark's 200 shuffle partitions cost more than the test data)."""
    conf = root / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        "spark.executor.memory 512m\n"
        "spark.executor.cores 1\n"
        # the driver receives no edge (spark_ratings): Spark's bookkeeping fits in this
        "spark.driver.memory 512m\n"
        "spark.sql.shuffle.partitions 4\n"
        "spark.default.parallelism 4\n")
    return conf


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[SparkCluster]:
    root = Path(tempfile.mkdtemp(prefix="linkatlas-spark-"))
    port, ui_port = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    processes = [_jvm(root, "master", "org.apache.spark.deploy.master.Master",
                      "--host", "127.0.0.1", "--port", str(port),
                      "--webui-port", str(ui_port))]
    try:
        for n in range(WORKERS):
            work = root / f"worker-{n}"
            work.mkdir()
            processes.append(_jvm(root, f"worker-{n}", "org.apache.spark.deploy.worker.Worker",
                                  master_url, "--host", "127.0.0.1", "--cores", "1",
                                  "--memory", "1g", "--port", str(free_port()),
                                  "--webui-port", str(free_port()), "--work-dir", str(work)))
        deadline = time.monotonic() + 240  # JVMs start slowly on a loaded machine
        while _alive_workers(ui_port) < WORKERS:
            dead = [p.args[-1] for p in processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(f.read_text()[-2000:] for f in sorted(root.glob("*.log")))
                raise RuntimeError(f"the Spark cluster did not start:\n{logs}")
            time.sleep(0.5)
        yield SparkCluster(master_url, ui_port, _defaults(root))
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
