"""The figures of a run, drawn from its result tables (matplotlib, one style for all).

Figures are built with `matplotlib.figure.Figure` rather than pyplot, so drawing them holds no
global state: safe in a job, a notebook or a thread, whatever backend is active.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from retrain_advisor.outputs.run_tables import RunTables

INK = "#1f2933"
MUTED = "#9aa5b1"
ACCENT = "#0b6e99"
WARN = "#c2410c"
GOOD = "#2f855a"
PALETTE = [ACCENT, "#d97706", "#7c3aed", GOOD, "#db2777", "#475569", "#0891b2", "#65a30d"]
STYLE: Any = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelcolor": INK,
    "axes.edgecolor": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e7eb",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": cycler(color=PALETTE),
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "lines.linewidth": 1.6,
    "svg.fonttype": "none",
    "svg.hashsalt": "retrain-advisor",  # stable element ids: the same tables give the same SVG
}
WIDTH = 8.0


@contextmanager
def styled() -> Iterator[None]:
    with mpl.rc_context(STYLE):
        yield


def _figure(height: float, rows: int = 1, cols: int = 1, **kw: Any) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False, **kw)
    return figure, axes


def _starts(frame: pd.DataFrame, column: str = "window") -> pd.Series:
    return pd.to_datetime(frame[column].map(lambda w: w["start"]))


def decay_figure(tables: RunTables) -> Figure | None:
    """What a model of each age loses against a fresh model on the same period, across origins:
    quartiles, the interval of the mean, the tolerance, the ages surely within it and the shelf
    life; with a year of history, one line per season of the origin."""
    curve = tables.overall("decay_curve")
    pooled = curve[curve["season"].isna()].sort_values("model_age")
    if pooled.empty:
        return None
    shelf = tables.pooled_shelf_life()
    recommendation = tables.recommendation() or {}
    limit = recommendation.get("tolerance_limit")
    with styled():
        figure, axes = _figure(3.4)
        ax: Axes = axes[0, 0]
        ages = pooled["model_age"]
        ax.fill_between(ages, pooled["regret_q25"], pooled["regret_q75"], color=ACCENT, alpha=0.12, label="quartiles")
        ax.fill_between(
            ages,
            pooled["regret_ci_low"],
            pooled["regret_ci_high"],
            color=ACCENT,
            alpha=0.3,
            label="interval of the mean",
        )
        ax.plot(ages, pooled["mean_regret"], color=ACCENT, marker="o", markersize=3, label="mean over origins")
        for season, rows in curve[curve["season"].notna()].groupby("season", sort=True):
            rows = rows.sort_values("model_age")
            ax.plot(rows["model_age"], rows["mean_regret"], linewidth=0.9, linestyle="--", label=f"origins in {season}")
        if limit is not None and pd.notna(limit):
            ax.axhline(float(limit), color=WARN, linestyle=":", linewidth=1.2, label="tolerance")
        if shelf is not None:
            within = int(shelf["within_tolerance_periods"])
            ax.axvspan(-0.5, within - 0.5, color=GOOD, alpha=0.07, label=f"surely within tolerance ({within})")
            if not shelf["is_censored"]:
                life = int(shelf["shelf_life_periods"])
                ax.axvline(life, color=WARN, linestyle="--", linewidth=1.2, label=f"surely beyond from age {life}")
        ax.axhline(0, color=INK, linewidth=0.6)
        ax.set_xlabel(f"model age ({tables.unit}s since training)")
        ax.set_ylabel(f"{tables.metric} lost against a fresh model")
        pattern = f", {shelf['decay_pattern']} decay" if shelf is not None else ""
        event = _event_text(tables)
        ax.set_title(f"Decay: what an older model loses on the same {tables.unit}{pattern}{event}")
        ax.legend(loc="upper left", ncols=2)
    return figure


def _event_text(tables: RunTables) -> str:
    events = tables.overall("calendar_events")
    if events.empty:
        return ""
    dates = ", ".join(str(pd.Timestamp(w["start"]).date()) for w in events["window"])
    return f"\n(cells that straddle the calendar event of {dates} are left out)"


def decay_by_slice_figure(tables: RunTables) -> Figure | None:
    """The mean regret by age for all rows and each slice, when the run has slices."""
    curve = tables.frames["decay_curve"]
    curve = curve[(curve["metric"] == tables.metric) & curve["season"].isna()]
    if curve["slice_value"].notna().sum() == 0:
        return None
    with styled():
        figure, axes = _figure(3.2)
        ax = axes[0, 0]
        for value, rows in curve.groupby(curve["slice_value"].fillna(""), sort=True):
            rows = rows.sort_values("model_age")
            style = {"color": INK, "linewidth": 2.2} if value == "" else {"linewidth": 1.2}
            ax.plot(rows["model_age"], rows["mean_regret"], label=value or "all rows", **style)
        limit = (tables.recommendation() or {}).get("tolerance_limit")
        if limit is not None and pd.notna(limit):
            ax.axhline(float(limit), color=WARN, linestyle=":", linewidth=1.2, label="tolerance")
        ax.set_xlabel(f"model age ({tables.unit}s)")
        ax.set_ylabel(f"{tables.metric} lost against a fresh model")
        ax.set_title(f"Decay by {curve['slice_key'].dropna().iloc[0]}")
        ax.legend(loc="upper left", ncols=2)
    return figure


def _served(row: pd.Series) -> pd.DataFrame:
    served = pd.DataFrame([{**s, "start": s["window"]["start"]} for s in row["served"]])
    served["start"] = pd.to_datetime(served["start"])
    return served.sort_values("start")


def schedule_figure(tables: RunTables) -> Figure | None:
    """Quality served in each replayed period when retraining every R periods (offset 0), with
    a tick at every retrain, against retraining every period."""
    backtest = tables.overall("schedule_backtest")
    periodic = backtest[(backtest["policy"] == "periodic") & (backtest["offset_periods"] == 0)]
    if periodic.empty:
        return None
    periodic = periodic.sort_values("interval_periods")
    recommendation = tables.recommendation() or {}
    every = _served(periodic.iloc[0])
    rows = len(periodic)
    with styled():
        figure, axes = _figure(1.15 * rows + 0.9, rows, 1, sharex=True, sharey=True)
        for ax, (_, row) in zip(axes[:, 0], periodic.iterrows(), strict=True):
            interval = int(row["interval_periods"])
            served = _served(row)
            chosen = interval == recommendation.get("recommended_interval_periods")
            colour = GOOD if chosen else ACCENT
            if interval != 1:
                ax.plot(every["start"], every["quality"], color=MUTED, linewidth=1.0)
            ax.plot(served["start"], served["quality"], color=colour, linewidth=2.0 if chosen else 1.4)
            retrained = served[served["retrained"]]
            ax.plot(retrained["start"], retrained["quality"], linestyle="none", marker="|", markersize=12, color=INK)
            label = f"every {interval}" + ("  (recommended)" if chosen else "")
            ax.text(0.005, 0.08, f"{label}: mean {row['mean_quality']:.3f}", transform=ax.transAxes, color=colour)
            ax.grid(axis="x", visible=False)
            for start in _event_starts(tables):
                ax.axvline(start, color=WARN, linestyle="--", linewidth=1.0)
        title = f"Replayed {tables.metric} per {tables.unit}, retraining every R {tables.unit}s"
        if _event_starts(tables):
            title += " (dashed: calendar events)"
        axes[0, 0].set_title(title)
        figure.supylabel(tables.metric, fontsize=9)
    return figure


def _event_starts(tables: RunTables) -> list[pd.Timestamp]:
    events = tables.overall("calendar_events")
    return [] if events.empty else [pd.Timestamp(w["start"]) for w in events["window"]]


def learning_curve_figure(tables: RunTables) -> Figure | None:
    """The same test periods scored by fits trained on more rows, and on more periods."""
    curve = tables.overall("learning_curve")
    if curve.empty:
        return None
    panels: list[tuple[str, str, str]] = [
        ("rows", "train_rows_used", "training rows (sampled within the study's lookback)"),
        ("periods", "train_periods", f"training {tables.unit}s (lookback; the last point is all history)"),
    ]
    panels = [p for p in panels if (curve["axis"] == p[0]).any()]
    with styled():
        figure, axes = _figure(3.0, 1, len(panels), sharey=True)
        for ax, (axis, column, label) in zip(axes[0], panels, strict=True):
            arm = curve[curve["axis"] == axis].sort_values(column)
            errors = _spread(arm["mean"], arm["ci_low"], arm["ci_high"])
            ax.errorbar(arm[column], arm["mean"], yerr=errors, marker="o", markersize=4, capsize=3, color=ACCENT)
            minimum = arm[arm["is_minimum"]]
            ax.plot(
                minimum[column], minimum["mean"], linestyle="none", marker="o", markersize=10, mfc="none", color=GOOD
            )
            for _, point in minimum.iterrows():
                ax.annotate(
                    "smallest within tolerance",
                    (point[column], point["mean"]),
                    xytext=(6, -14),
                    textcoords="offset points",
                    color=GOOD,
                )
            if axis == "rows":
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(label)
        axes[0, 0].set_ylabel(tables.metric)
        axes[0, 0].set_title("Learning curve: how much data the model needs")
    return figure


def lookback_figure(tables: RunTables) -> Figure | None:
    """Each lookback and recency weight against training on all history, paired by origin."""
    arms = tables.overall("window_comparison")
    arms = arms[~arms["is_reference"]]
    if arms.empty:
        return None
    recommendation = tables.recommendation() or {}
    arms = arms.assign(label=arms.apply(_arm_label, axis=1, unit=tables.unit)).sort_values(
        ["half_life_periods", "lookback_periods"], na_position="first"
    )
    with styled():
        figure, axes = _figure(0.35 * len(arms) + 1.3)
        ax = axes[0, 0]
        positions = np.arange(len(arms))
        chosen = (arms["lookback_periods"] == recommendation.get("recommended_lookback_periods")) | (
            arms["half_life_periods"] == recommendation.get("recommended_half_life_periods")
        )
        colours = [GOOD if c else ACCENT for c in chosen]
        errors = _spread(arms["mean_diff"], arms["diff_ci_low"], arms["diff_ci_high"])
        ax.errorbar(arms["mean_diff"], positions, xerr=errors, linestyle="none", capsize=3, color=MUTED, zorder=1)
        ax.scatter(arms["mean_diff"], positions, color=colours, zorder=2)
        ax.axvline(0, color=INK, linewidth=0.8)
        ax.set_yticks(positions, arms["label"])
        ax.set_xlabel(f"{tables.metric} against all history (right: better)")
        verdict = recommendation.get("lookback_verdict", "")
        ax.set_title(f"Old data: each window against all history (verdict: {verdict})")
    return figure


def _spread(center: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray:
    """Error bar lengths below and above each point (a 2 x n array, never negative)."""
    below, above = (center - low).to_numpy(dtype=float), (high - center).to_numpy(dtype=float)
    return np.clip(np.vstack([below, above]), 0, None)


def _arm_label(arm: pd.Series, unit: str) -> str:
    if pd.notna(arm["half_life_periods"]):
        return f"half-life {arm['half_life_periods']:g} {unit}s"
    return f"last {int(arm['lookback_periods'])} {unit}s"


def arrival_figure(tables: RunTables) -> Figure | None:
    """Rows and labelled rows per period, thin and empty periods marked, and the positive rate
    (or the target mean) on the right axis."""
    arrival = tables.overall("data_arrival")
    if arrival.empty:
        return None
    arrival = arrival.assign(start=_starts(arrival)).sort_values("start")
    width = (arrival["start"].diff().median() or pd.Timedelta(days=7)) * 0.85
    with styled():
        figure, axes = _figure(3.0)
        ax = axes[0, 0]
        ax.bar(arrival["start"], arrival["rows"], width=width, color=MUTED, label="rows")
        ax.bar(arrival["start"], arrival["labelled_rows"], width=width, color=ACCENT, label="labelled rows")
        thin = arrival[arrival["is_thin"] | arrival["is_empty"]]
        if len(thin):
            ax.bar(thin["start"], thin["rows"].clip(lower=1), width=width, color=WARN, label="thin or empty")
        ax.set_ylabel(f"rows per {tables.unit}")
        ax.set_ylim(top=arrival["rows"].max() * 1.3)
        rate = "positive_rate" if arrival["positive_rate"].notna().any() else "target_mean"
        if arrival[rate].notna().any():
            twin = ax.twinx()
            twin.plot(arrival["start"], arrival[rate], color=INK, linewidth=1.0, label=rate.replace("_", " "))
            low, high = arrival[rate].min(), arrival[rate].max()
            twin.set_ylim(low - (high - low) * 1.5, high + (high - low) * 0.3)
            twin.set_ylabel(rate.replace("_", " "))
            twin.grid(False)
            twin.legend(loc="upper right")
        ax.set_title(f"Data arrival per {tables.unit}")
        ax.legend(loc="upper left", ncols=3)
    return figure


def drift_figure(tables: RunTables) -> Figure | None:
    """Period-over-period PSI of every column (a heatmap), the columns whose drift predicts a
    quality drop best at the top."""
    drift = tables.overall("feature_drift")
    if drift.empty:
        return None
    drift = drift.assign(start=_starts(drift).dt.date)
    grid = drift.pivot_table(index="column_name", columns="start", values="population_stability_index")
    signals = tables.overall("drift_signals")
    best = signals.dropna(subset=["column_name"]).groupby("column_name")["rank"].min()
    grid = grid.loc[sorted(grid.index, key=lambda c: (best.get(c, np.inf), c))]
    values = grid.to_numpy(dtype=float)
    # scaled to this run's drift, so that mild drift still shows its pattern
    top = max(0.05, float(np.nanquantile(values, 0.98))) if np.isfinite(values).any() else 0.25
    with styled():
        figure, axes = _figure(0.28 * len(grid) + 1.8)
        ax = axes[0, 0]
        image = ax.imshow(values, aspect="auto", cmap="Oranges", vmin=0, vmax=top, interpolation="nearest")
        ax.set_yticks(range(len(grid)), grid.index)
        ticks = range(0, grid.shape[1], max(1, grid.shape[1] // 6))
        ax.set_xticks(list(ticks), [str(grid.columns[i]) for i in ticks])
        ax.grid(False)
        figure.colorbar(image, ax=ax, label=f"PSI against the previous {tables.unit} (capped at {top:.2g})")
        ax.set_title("Drift per period (columns ordered by how well their drift predicts a quality drop)")
    return figure


def signal_figure(tables: RunTables) -> Figure | None:
    """The best drift signal against the quality drop of every evaluation, breaches of the
    tolerance marked, with the alert threshold."""
    evidence = tables.frames.get("signal_evidence")
    if evidence is None or evidence.empty:
        return None
    signal = evidence["signal"].iloc[0]
    row = tables.overall("drift_signals").set_index("signal").loc[signal]
    breach = evidence["breach"].to_numpy(dtype=bool)
    with styled():
        figure, axes = _figure(3.4)
        ax = axes[0, 0]
        ax.scatter(evidence["value"][~breach], evidence["drop"][~breach], s=12, color=MUTED, label="within tolerance")
        ax.scatter(evidence["value"][breach], evidence["drop"][breach], s=14, color=WARN, label="drop beyond tolerance")
        if pd.notna(row["alert_threshold"]):
            judged = ", ".join(
                f"{name} {row[column]:.2f}"
                for name, column in (("precision", "alert_precision"), ("recall", "alert_recall"))
                if pd.notna(row[column])
            )
            ax.axvline(
                row["alert_threshold"],
                color=INK,
                linestyle="--",
                linewidth=1.0,
                label="alert threshold, chosen before the replayed periods"
                + (f" (on them: {judged})" if judged else ""),
            )
        ax.set_xlabel(f"{signal}: scored period against the training window")
        ax.set_ylabel(f"drop of {tables.metric} since age 0")
        ax.set_title(
            f"The drift signal that best predicts a quality drop, age held fixed (AUC {row['auc_within_age']:.2f})"
        )
        ax.legend(loc="upper left")
    return figure


def estimate_figure(tables: RunTables) -> Figure | None:
    """Quality estimated without labels against the measured one: the newest model with the most
    scored periods, per period; and every decay evaluation's change since its model was fresh."""
    evidence = tables.frames.get("estimate_evidence")
    if evidence is None or evidence.empty:
        return None
    ages = evidence.groupby("fit_id")["model_age"].max()
    starts = evidence.groupby("fit_id")["start"].min()
    newest = max(ages.index, key=lambda fit_id: (ages[fit_id], starts[fit_id]))
    served = evidence[evidence["fit_id"] == newest].sort_values("model_age")
    aged = evidence[~evidence["is_fresh"].astype(bool)]
    tracking = tables.overall("estimate_tracking")
    pooled = tracking[tracking["model_age"].isna()]
    with styled():
        figure, axes = _figure(3.4, 1, 2)
        ax = axes[0, 0]
        start = pd.to_datetime(served["start"])
        ax.fill_between(start, served["low"], served["high"], color=ACCENT, alpha=0.15, linewidth=0)
        ax.plot(start, served["estimated"], color=ACCENT, label="estimated without labels")
        ax.plot(start, served["measured"], color=INK, marker="o", markersize=3, label="measured")
        ax.set_ylabel(tables.metric)
        ax.set_title(f"One model over the {len(served)} {tables.unit}s after its training")
        ax.legend(loc="lower left")
        ax.tick_params(axis="x", labelrotation=30)
        ax = axes[0, 1]
        ax.scatter(aged["measured_change"], aged["estimated_change"], s=10, color=MUTED)
        values = pd.concat([aged["measured_change"], aged["estimated_change"]]).to_numpy(dtype=float)
        if values.size:
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
            ax.plot([low, high], [low, high], color=INK, linestyle="--", linewidth=1.0, label="estimate = measured")
            ax.legend(loc="upper left")
        correlation = pooled["change_correlation"].iloc[0] if len(pooled) else np.nan
        ax.set_xlabel(f"measured change of {tables.metric} since age 0")
        ax.set_ylabel("estimated change")
        ax.set_title("Every decay model" + (f" (correlation {correlation:.2f})" if pd.notna(correlation) else ""))
    return figure


FIGURES: dict[str, tuple[str, Callable[[RunTables], Figure | None]]] = {
    "decay": ("How quickly quality goes down", decay_figure),
    "decay_by_slice": ("Decay per slice", decay_by_slice_figure),
    "schedule": ("How often to retrain: history replayed", schedule_figure),
    "learning_curve": ("How much data the model needs", learning_curve_figure),
    "lookbacks": ("Whether to drop old data", lookback_figure),
    "arrival": ("How often new data arrives", arrival_figure),
    "drift": ("How the data moved, and which drift costs quality", drift_figure),
    "drift_signal": ("Drift against quality drop, for the best signal", signal_figure),
    "estimates": ("Quality estimated before the labels arrive", estimate_figure),
}


def draw_figures(tables: RunTables) -> dict[str, Figure]:
    """Every figure the run's tables support, by name (a figure without data is left out)."""
    drawn = {name: draw(tables) for name, (_, draw) in FIGURES.items()}
    return {name: figure for name, figure in drawn.items() if figure is not None}
