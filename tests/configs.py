"""The one way tests build a study config: a base mapping, then sections merged key by key.

`make_config(MINIMAL, windows={"max_age": 5})` changes only `windows.max_age`, as
`--set windows.max_age=5` would; a key set to None is dropped from the base section, and a
section given as a non-mapping (None, say) replaces it whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retrain_advisor.foundation.config import StudyConfig, parse_config

MINIMAL: dict[str, Any] = {
    "name": "s",
    "source": {"table": "main.sales.history"},
    "columns": {"event_time": "ts", "label": "y"},
    "output": {"path": "/tmp/out"},
}

# A fast weekly study of a generated history: logistic regression, 6-week lookback, ages 0..6,
# one origin per week, small comparison and schedule grids (a few dozen fits); tests of an
# analysis widen its own grid.
FAST_STUDY: dict[str, Any] = {
    "name": "test-study",
    "source": {"format": "delta"},
    "columns": {"event_time": "event_time", "label": "label", "exclude": ["label_time"]},
    "period": {"unit": "week"},
    "model": {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 300}},
    "metrics": {"names": ["roc_auc", "log_loss"], "primary": "roc_auc"},
    "windows": {"lookback": 6, "gap": 0, "max_age": 6, "origin_every": 1},
    "tolerance": {"absolute": 0.02, "persistence": 2},
    "comparisons": {"origins": 3, "test_periods": 1, "train_sizes": [5000, 20000], "lookbacks": [2, 4]},
    "schedule": {"intervals": [1, 2, 4]},
    "limits": {"max_train_rows": 20000, "max_eval_rows": 5000},
    "output": {},
    "tracking": {"mlflow": False},
}


def config_data(base: Mapping[str, Any], **sections: Any) -> dict[str, Any]:
    """The base with each given section merged into it key by key (see the module docstring)."""
    data = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for name, value in sections.items():
        if isinstance(value, Mapping) and isinstance(data.get(name), Mapping):
            merged = {**data[name], **value}
            data[name] = {k: v for k, v in merged.items() if v is not None}
        else:
            data[name] = dict(value) if isinstance(value, Mapping) else value
    return data


def make_config(base: Mapping[str, Any] = MINIMAL, **sections: Any) -> StudyConfig:
    return parse_config(config_data(base, **sections))


def study_config(source_path: str, output_path: Path | str, **sections: Any) -> StudyConfig:
    """The fast study of a Delta history at `source_path`, writing to `output_path`."""
    located = config_data(FAST_STUDY, source={"path": source_path}, output={"path": str(output_path)})
    return make_config(located, **sections)
