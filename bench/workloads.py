"""The benchmark's workloads: generated demo histories of several sizes and the study run on each.

- `demo`: the demo study as `make demo` runs it (1.2M rows, 105 weeks, the full plan).
- `rows-x1`, `rows-x4`, `rows-x16`: the same 105 weeks with 4 and 16 times the rows, under one
  plan whose row caps every period exceeds even at x1, so the fits and evaluations (and the
  kernels' work) are the same and only the rows Spark reads grow.
- `periods-x1`, `periods-x2`, `periods-x4`: 52, 105 and 210 weeks at the same rows per week
  (`periods-x2` is `rows-x1`); the plan grows with the history.
- `cluster`: the demo study on a standalone cluster of two one-core workers on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from retrain_advisor.foundation.config import StudyConfig, load_config

DEMO_CONFIG = "conf/demo.yml"
DATA = "retrain_advisor_demo/bench"
DEMO_ROWS = 1_200_000
DEMO_DAYS = 735  # 105 weeks

# The scaling plan: caps every week exceeds at the smallest size (about 2,900 labelled rows a
# week), and a lighter plan than the demo's, so that each size runs in a few minutes.
SCALING_ROWS = 300_000
SCALING_PLAN: dict[str, Any] = {
    "limits.max_train_rows": 10_000,
    "limits.max_eval_rows": 1_000,
    "windows.max_age": 8,
    "windows.origin_every": 4,
    "comparisons.origins": 2,
    "comparisons.lookbacks": [8, 13, 26],
    "schedule.intervals": [1, 2, 4, 8],
}

# A first study in the same session, so the measured one pays for no JVM start-up, JIT or imports.
WARM_UP: dict[str, Any] = {
    "windows.max_origins": 3,  # tolerance.min_origins
    "comparisons.origins": 2,
    "comparisons.lookbacks": [26],
    "schedule.intervals": [1, 2],
    "drift.enabled": True,
}


@dataclass(frozen=True)
class Workload:
    name: str
    rows: int
    days: int
    overrides: dict[str, Any] = field(default_factory=dict)
    cluster: bool = False  # on a standalone cluster of two workers instead of local[cores]
    group: str = "demo"  # workloads printed side by side: demo, rows or periods

    @property
    def source_path(self) -> str:
        if self.rows == DEMO_ROWS and self.days == DEMO_DAYS:
            return "retrain_advisor_demo/source/churn_history"  # the demo's own table, shared with `make demo`
        return f"{DATA}/history_{self.rows}_rows_{self.days}_days"

    def config(self, extra: dict[str, Any] | None = None) -> StudyConfig:
        overrides = {
            "source.path": self.source_path,
            "output.path": f"{DATA}/results/{self.name}",
            "output.run_id": self.name,
            "tracking.mlflow": False,
            **self.overrides,
            **(extra or {}),
        }
        return load_config(DEMO_CONFIG, overrides)


def _scaled(name: str, group: str, rows_factor: int, weeks_factor: float) -> Workload:
    days = round(DEMO_DAYS * weeks_factor)
    return Workload(name, round(SCALING_ROWS * rows_factor * weeks_factor), days, SCALING_PLAN, group=group)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload("demo", DEMO_ROWS, DEMO_DAYS),
        Workload("cluster", DEMO_ROWS, DEMO_DAYS, cluster=True),
        _scaled("rows-x1", "rows", 1, 1),
        _scaled("rows-x4", "rows", 4, 1),
        _scaled("rows-x16", "rows", 16, 1),
        _scaled("periods-x1", "periods", 1, 0.5),
        _scaled("periods-x4", "periods", 1, 2),
    ]
}
# periods-x2 is rows-x1: 105 weeks at the base rows per week.
GROUPS = {
    "demo": ["demo", "cluster"],
    "rows": ["rows-x1", "rows-x4", "rows-x16"],
    "periods": ["periods-x1", "rows-x1", "periods-x4"],
}
