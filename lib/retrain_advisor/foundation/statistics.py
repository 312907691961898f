"""Statistics every analysis shares: seeds that do not depend on task order, bootstrap
intervals, and the tolerance as one acceptable drop. No Spark here."""

from __future__ import annotations

import zlib

import numpy as np

from retrain_advisor.foundation.config import ToleranceConfig


def group_seed(seed: int, *keys: object) -> int:
    """A seed for one group of the curve that does not depend on the order Spark runs groups in."""
    return zlib.crc32(":".join(str(k) for k in (seed, *keys)).encode())


def derive_seed(seed: int, key: str) -> int:
    """A per-fit seed that depends on the study seed and the fit, never on task order."""
    return zlib.crc32(f"{seed}:{key}".encode()) & 0x7FFFFFFF


def bootstrap_mean_interval(values: np.ndarray, confidence: float, samples: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; a single value is its own interval."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(samples, values.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def weighted_interval(
    values: np.ndarray, weights: np.ndarray, confidence: float, samples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of the row-weighted mean, resampling periods; one value is its own interval."""
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), float(values[0])
    picks = np.random.default_rng(seed).integers(0, values.size, size=(samples, values.size))
    totals = weights[picks].sum(axis=1)
    means = np.divide(
        (values[picks] * weights[picks]).sum(axis=1), totals, out=np.full(samples, np.nan), where=totals > 0
    )
    tail = (1 - confidence) / 2
    return float(np.nanquantile(means, tail)), float(np.nanquantile(means, 1 - tail))


def acceptable_drop(tolerance: ToleranceConfig, reference: float, greater_is_better: bool) -> float:
    """The tolerance as one absolute drop from `reference` (fresh quality, or a comparison's
    reference arm): the smallest of the absolute, relative and floor limits that are set. A
    reference already beyond the floor allows no drop."""
    scales = []
    if tolerance.absolute is not None:
        scales.append(tolerance.absolute)
    if tolerance.relative is not None and np.isfinite(reference):
        scales.append(tolerance.relative * abs(reference))
    if tolerance.floor is not None and np.isfinite(reference):
        room = reference - tolerance.floor if greater_is_better else tolerance.floor - reference
        scales.append(max(0.0, room))
    return min(scales) if scales else float("nan")
