"""The designs of the analyses: which arms each one needs, merged into one plan.

Decay scores one fit per origin at every age, and a fresh fit of every period it scores (the
same window, trained at that period) on that period alone: decay is measured as the loss of an
older model against the fresh one on the same rows. The comparisons (learning curve, lookbacks)
score fits with the same training end on the same test periods; the schedule backtest needs a
fit at every period it replays, scored up to the largest interval. Shared fits (the default
lookback at full size, trained at the same period) are planned once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from retrain_advisor.foundation.config import PeriodUnit, StudyConfig, WindowsConfig
from retrain_advisor.foundation.errors import PlanError
from retrain_advisor.foundation.periods import period_id_of, period_start
from retrain_advisor.foundation.vocabulary import (
    ANALYSES,
    DECAY,
    JOINT_REPLAY,
    LEARNING_CURVE,
    PERIODS,
    ROWS,
    SCHEDULE,
    WINDOW_COMPARISON,
    Analysis,
)
from retrain_advisor.planning.plan import Arm, History, Plan, make_fit

log = logging.getLogger(__name__)


SIZE_DIVISORS = (16, 8, 4, 2, 1)
DEFAULT_INTERVALS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 52)


@dataclass(frozen=True)
class DecayDesign:
    """The decay fit of each origin (scored at ages 0..max_age) and the fresh fit of each period
    it scores (scored at age 0): `origin_fits` and `reference_fits` map periods to fit ids;
    `train_starts` gives each origin fit's first training period."""

    origin_fits: dict[int, str]
    reference_fits: dict[int, str]
    train_starts: dict[int, int] = field(default_factory=dict)

    @property
    def origins(self) -> list[int]:
        return sorted(self.origin_fits)


@dataclass(frozen=True)
class ReplayDesign:
    """The schedule backtest replays periods start..last under each interval; `requested` is
    the number of periods asked for (more than replayed when earlier fits lack a full lookback)."""

    start: int
    last: int
    intervals: list[int]
    requested: int

    @property
    def periods(self) -> int:
        return self.last - self.start + 1

    @property
    def max_age(self) -> int:
        """Models serve at ages 0..max_age-1 in every replayed policy."""
        return max(self.intervals)


@dataclass(frozen=True)
class StudyPlan:
    plan: Plan
    decay: DecayDesign
    comparison_origins: list[int]
    train_sizes: list[int]
    lookbacks: list[int]
    replay: ReplayDesign

    def separate_fit_counts(self) -> dict[str, int]:
        """Fits each analysis would train if run on its own."""
        return {analysis: len(self.plan.fits_needed_by(analysis)) for analysis in ANALYSES}


def needed_before(windows: WindowsConfig) -> int:
    """Periods of history a fit needs before its training end."""
    return windows.lookback if isinstance(windows.lookback, int) else windows.gap + 1


def _lookback(windows: WindowsConfig) -> int | None:
    return windows.lookback if isinstance(windows.lookback, int) else None


def on_grid(period_id: int, every: int) -> int:
    """The latest period id at or before `period_id` that is a multiple of `every`."""
    return period_id - period_id % every


def choose_origins(history: History, windows: WindowsConfig, unit: PeriodUnit) -> list[int]:
    """Training ends with a full lookback behind them and max_age periods of history after them.

    Origins sit on a fixed grid of period ids (multiples of `origin_every`), the latest on the
    grid that is feasible; `max_origins` keeps the most recent. A fixed grid keeps a study's
    origins, and so its fits, the same when the history grows: an incremental run reuses them.
    """
    first, last = history.first, history.last
    earliest = first + needed_before(windows)
    latest = last - windows.max_age
    if windows.first_origin is not None:
        earliest = max(earliest, period_id_of(unit, windows.first_origin))
    if windows.last_origin is not None:
        latest = min(latest, period_id_of(unit, windows.last_origin))
    if latest < earliest:
        span = last - first + 1
        raise PlanError(
            f"the history has {span} {unit}s ({period_start(unit, first)} to {period_start(unit, last)}), "
            f"too short for windows.lookback={windows.lookback} and windows.max_age={windows.max_age}: "
            f"a fit needs {needed_before(windows)} {unit}s before its training end and {windows.max_age} after it "
            f"(first/last_origin narrow this further). Lower windows.lookback or windows.max_age, "
            f"or use a shorter period.unit."
        )
    origins = list(range(on_grid(latest, windows.origin_every), earliest - 1, -windows.origin_every))
    if windows.max_origins is not None:
        origins = origins[: windows.max_origins]
    return sorted(origins)


def plan_decay(history: History, config: StudyConfig) -> tuple[Plan, DecayDesign]:
    """Decay: one fit per origin, scored at every age 0..max_age whose period has data, and the
    fresh fit of every period those fits are scored on, scored on that period alone."""
    windows, plan = config.windows, Plan()
    origins = choose_origins(history, windows, config.period.unit)
    _enough_origins(origins, config)
    cap, seed, lookback = config.limits.max_train_rows, config.execution.seed, _lookback(windows)
    origin_fits, reference_fits, train_starts = {}, {}, {}
    for origin in origins:
        fit = make_fit(history, origin, lookback, windows.gap, cap, seed)
        scored = [p for p in range(origin, origin + windows.max_age + 1) if history.has(p)]
        plan.add_arm(Arm(DECAY, fit.fit_id, origin, cap, lookback), fit, scored)
        origin_fits[origin] = fit.fit_id
        train_starts[origin] = fit.train_start
    for period in plan.scored_periods():
        fit = make_fit(history, period, lookback, windows.gap, cap, seed)
        plan.add_arm(Arm(DECAY, fit.fit_id, period, cap, lookback), fit, [period])
        reference_fits[period] = fit.fit_id
    return plan, DecayDesign(origin_fits, reference_fits, train_starts)


def _enough_origins(origins: list[int], config: StudyConfig) -> None:
    """Stop before any fit when the history leaves fewer origins than tolerance.min_origins."""
    needed, windows, unit = config.tolerance.min_origins, config.windows, config.period.unit
    if len(origins) >= needed:
        return
    more = (needed - len(origins)) * windows.origin_every
    raise PlanError(
        f"the history leaves {len(origins)} origin(s) for the decay curve, fewer than tolerance.min_origins="
        f"{needed}: {more} more {unit}(s) of history would give {needed}. Or lower windows.lookback "
        f"({windows.lookback}) or windows.max_age ({windows.max_age}), use a shorter period.unit, or lower "
        "tolerance.min_origins (its intervals then rest on fewer origins)"
    )


def default_train_sizes(config: StudyConfig) -> list[int]:
    cap, floor = config.limits.max_train_rows, config.limits.min_train_rows
    return sorted({cap // d for d in SIZE_DIVISORS if cap // d >= floor})


def default_lookbacks(history: History, config: StudyConfig) -> list[int]:
    """Powers of two longer than the gap and shorter than the history, and the study's lookback."""
    span = history.last - history.first
    powers = [2**k for k in range(0, 12) if config.windows.gap < 2**k < span]
    configured = [config.windows.lookback] if isinstance(config.windows.lookback, int) else []
    return sorted(set(powers + configured))


def comparison_origins(history: History, config: StudyConfig) -> list[int]:
    """The most recent training ends with test_periods of history after them, one test block apart
    (on a fixed grid, as decay origins are)."""
    settings = config.comparisons
    earliest = history.first + needed_before(config.windows)
    latest = on_grid(history.last - settings.test_periods + 1, settings.test_periods)
    origins = [t for t in range(latest, earliest - 1, -settings.test_periods)][: settings.origins]
    if len(origins) < 2:
        raise PlanError(
            f"the history leaves {len(origins)} training end(s) for the comparisons (learning curve and lookbacks) "
            f"with comparisons.test_periods={settings.test_periods}; at least 2 are needed. Lower "
            "comparisons.test_periods or windows.lookback"
        )
    return sorted(origins)


def plan_comparisons(history: History, config: StudyConfig) -> tuple[Plan, list[int], list[int], list[int]]:
    """Learning curve (rows and periods) and lookback comparison at the same origins and test periods."""
    windows, seed, cap = config.windows, config.execution.seed, config.limits.max_train_rows
    origins = comparison_origins(history, config)
    sizes = _distinct_sizes(history, config, origins)
    lookbacks = _shorter_than_history(history, config, origins)
    plan = Plan()
    for origin in origins:
        tested = [p for p in range(origin, origin + config.comparisons.test_periods) if history.has(p)]
        for size in sizes:
            fit = make_fit(history, origin, _lookback(windows), windows.gap, size, seed)
            plan.add_arm(Arm(LEARNING_CURVE, fit.fit_id, origin, size, _lookback(windows), axis=ROWS), fit, tested)
        for lookback in [*lookbacks, None]:
            fit = make_fit(history, origin, lookback, windows.gap, cap, seed)
            plan.add_arm(Arm(LEARNING_CURVE, fit.fit_id, origin, cap, lookback, axis=PERIODS), fit, tested)
            plan.add_arm(Arm(WINDOW_COMPARISON, fit.fit_id, origin, cap, lookback), fit, tested)
        for half_life in config.comparisons.half_lives:
            fit = make_fit(history, origin, None, windows.gap, cap, seed, half_life)
            plan.add_arm(Arm(WINDOW_COMPARISON, fit.fit_id, origin, cap, None, half_life), fit, tested)
    return plan, origins, sizes, lookbacks


def _distinct_sizes(history: History, config: StudyConfig, origins: list[int]) -> list[int]:
    """Row caps below what the study's window holds at every origin, and the largest cap.

    Larger caps would train on the same rows as the largest one: the same fit under another name.
    """
    sizes = config.comparisons.train_sizes or default_train_sizes(config)
    lookback, gap = _lookback(config.windows), config.windows.gap
    held = min(history.rows_between(history.first if lookback is None else t - lookback, t - gap) for t in origins)
    kept = sorted({s for s in sizes if s < held} | {max(sizes)})
    if len(kept) < len(sizes):
        log.info("learning curve: row caps %s reduced to %s (windows hold %d rows)", sizes, kept, held)
    return kept


def _shorter_than_history(history: History, config: StudyConfig, origins: list[int]) -> list[int]:
    """Lookbacks that stop short of the first period at every origin: longer ones are all history."""
    lookbacks = config.comparisons.lookbacks or default_lookbacks(history, config)
    kept = [lb for lb in lookbacks if min(origins) - lb > history.first]
    if len(kept) < len(lookbacks):
        log.info(
            "lookbacks %s reaching the first period are compared as all history", sorted(set(lookbacks) - set(kept))
        )
    return kept


def default_intervals(config: StudyConfig) -> list[int]:
    return [r for r in DEFAULT_INTERVALS if r <= config.windows.max_age]


def replay_design(history: History, config: StudyConfig) -> ReplayDesign:
    """Replay the most recent periods; every fit a policy might use needs a full lookback."""
    intervals = config.schedule.intervals or default_intervals(config)
    largest = max(intervals)
    replay = config.schedule.replay_periods or 2 * largest
    earliest_fit = history.first + needed_before(config.windows)
    start = max(history.last - replay + 1, earliest_fit + largest - 1)
    if history.last - start + 1 < 2:
        raise PlanError(
            f"the history is too short to replay schedule.intervals up to {largest} "
            f"with windows.lookback={config.windows.lookback}: the replay needs {largest - 1} periods of fits "
            "before it and two periods to replay. Lower schedule.intervals or windows.lookback"
        )
    if start > history.last - replay + 1:
        log.warning(
            "the schedule replays %d periods, not %d: earlier fits would lack a full lookback",
            history.last - start + 1,
            replay,
        )
    return ReplayDesign(start, history.last, intervals, replay)


def plan_schedule(
    history: History,
    config: StudyConfig,
    design: ReplayDesign,
    window: TrainingWindow | None = None,
    analysis: Analysis = SCHEDULE,
) -> Plan:
    """A fit at every period a policy may retrain at, scored at every age a policy may serve it;
    trained on the study's lookback, or on `window`."""
    windows, plan, cap = config.windows, Plan(), config.limits.max_train_rows
    lookback, half_life = (_lookback(windows), None) if window is None else (window.lookback, window.half_life)
    for train_end in range(design.start - design.max_age + 1, design.last + 1):
        fit = make_fit(history, train_end, lookback, windows.gap, cap, config.execution.seed, half_life)
        served = range(max(train_end, design.start), min(train_end + design.max_age, design.last + 1))
        scored = [p for p in served if history.has(p)]
        plan.add_arm(Arm(analysis, fit.fit_id, train_end, cap, lookback, half_life), fit, scored)
    return plan


@dataclass(frozen=True)
class TrainingWindow:
    """A lookback (None: all history) and a recency half-life (None: unweighted)."""

    lookback: int | None
    half_life: float | None = None


def plan_joint_replay(
    history: History, config: StudyConfig, design: ReplayDesign, window: TrainingWindow
) -> Plan | None:
    """The schedule's fits again with the recommended training window, so the recommended
    interval is replayed as it would run; None when that window is the study's own."""
    if window.half_life is None and window.lookback == _lookback(config.windows):
        return None
    return plan_schedule(history, config, design, window, JOINT_REPLAY)


def plan_study(history: History, config: StudyConfig) -> StudyPlan:
    """Every analysis's arms in one de-duplicated plan."""
    if not history.periods:
        raise PlanError("the source has no labelled periods; check source and columns.label")
    decay, decay_design = plan_decay(history, config)
    comparisons, origins, sizes, lookbacks = plan_comparisons(history, config)
    design = replay_design(history, config)
    plan = decay.merge(comparisons).merge(plan_schedule(history, config, design))
    return StudyPlan(plan, decay_design, origins, sizes, lookbacks, design)
