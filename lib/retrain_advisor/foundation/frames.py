"""Small pandas helpers shared by the analyses and the outputs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd


def plain_value(value: Any) -> Any:
    """Python values Spark accepts: numpy scalars unwrapped, NaN as null (not measured)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def first_row(frame: pd.DataFrame) -> dict[str, Any] | None:
    """The first row as a mapping of column names, or None for an empty frame."""
    return None if frame.empty else {str(k): v for k, v in frame.iloc[0].to_dict().items()}


def by_slice(frame: pd.DataFrame) -> Iterator[tuple[str | None, pd.DataFrame]]:
    """The rows of each slice_value (None: all rows)."""
    for key, group in frame.groupby("slice_value", dropna=False, sort=True):
        yield (None if pd.isna(key) else str(key)), group
