"""Peak resident memory of each part of a Spark application on this machine, sampled with psutil.

Spark's parts are separate processes: the driver's Python, the driver JVM (which in local mode
also runs the executor), executor JVMs (standalone cluster) and the Python workers that run
the kernels. The sampler adds up each part's resident set every `interval` seconds and keeps
the largest sum, so a peak shorter than the interval can be missed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import psutil

DRIVER_PYTHON = "driver Python"
DRIVER_JVM = "driver JVM"
EXECUTOR_JVMS = "executor JVMs"
PYTHON_WORKERS = "Python workers"
PARTS = (DRIVER_PYTHON, DRIVER_JVM, EXECUTOR_JVMS, PYTHON_WORKERS)
MIB = 2**20


def part_of(process: psutil.Process, driver_pid: int) -> str | None:
    """Which part of the application a process is, from its command line (None: not Spark's)."""
    if process.pid == driver_pid:
        return DRIVER_PYTHON
    try:
        command = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if "org.apache.spark.executor" in command:
        return EXECUTOR_JVMS
    if "org.apache.spark.deploy.SparkSubmit" in command:
        return DRIVER_JVM
    if "pyspark.daemon" in command or "pyspark.worker" in command:
        return PYTHON_WORKERS
    return None


@dataclass
class PeakMemory:
    """Samples in a background thread between `start()` and `stop()`; `peaks_mib` per part."""

    interval: float = 0.25
    peaks_mib: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        driver = os.getpid()
        totals = dict.fromkeys(PARTS, 0.0)
        for process in psutil.process_iter():
            part = part_of(process, driver)
            if part is None:
                continue
            try:
                totals[part] += process.memory_info().rss / MIB
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        for part, total in totals.items():
            self.peaks_mib[part] = max(self.peaks_mib[part], total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> PeakMemory:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        return {part: round(mib) for part, mib in self.peaks_mib.items()}
