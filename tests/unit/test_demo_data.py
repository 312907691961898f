import dataclasses
import datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from retrain_advisor.demo.history import DRIFT_KINDS, DemoSpec, generate, generate_chunks

NUMERIC = ["tenure_months", "monthly_spend", "support_calls", "days_since_login", "discount_pct", "usage_trend"]
CATEGORICAL = ["plan", "region", "channel"]
COLUMNS = ["event_time", *NUMERIC, *CATEGORICAL, "label", "label_time"]

SMALL = DemoSpec(rows=60_000, days=280, drift="gradual", seed=11)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return generate(SMALL)


def day_of(spec: DemoSpec, frame: pd.DataFrame) -> pd.Series:
    return (frame["event_time"].dt.tz_localize(None) - pd.Timestamp(spec.start)).dt.days


def window(spec: DemoSpec, frame: pd.DataFrame, first_day: int, end_day: int) -> pd.DataFrame:
    day = day_of(spec, frame)
    return frame[(day >= first_day) & (day < end_day)]


def fit(train: pd.DataFrame) -> Pipeline:
    features = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(missing_values=None, strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                CATEGORICAL,
            ),
        ]
    )
    model = make_pipeline(features, LogisticRegression(max_iter=1000))
    return model.fit(train[NUMERIC + CATEGORICAL], train["label"])


def auc(model: Pipeline, test: pd.DataFrame) -> float:
    return roc_auc_score(test["label"], model.predict_proba(test[NUMERIC + CATEGORICAL])[:, 1])


def split(frame: pd.DataFrame, held_out: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame]:
    mask = np.random.default_rng(0).random(len(frame)) < held_out
    return frame[~mask], frame[mask]


# --- shape, determinism, realism ---------------------------------------------------------------


def test_same_spec_gives_identical_frame(small: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate(SMALL), small)
    other_seed = generate(dataclasses.replace(SMALL, seed=SMALL.seed + 1))
    assert not other_seed["monthly_spend"].equals(small["monthly_spend"])


def test_columns_and_dtypes(small: pd.DataFrame) -> None:
    assert list(small.columns) == COLUMNS
    assert str(small["event_time"].dtype) == "datetime64[ns, UTC]"
    assert str(small["label_time"].dtype) == "datetime64[ns, UTC]"
    for column in NUMERIC:
        assert small[column].dtype == np.float64, column
    assert small["label"].dtype == np.int64
    assert set(small["label"].unique()) == {0, 1}
    for column in CATEGORICAL:
        assert small[column].dtype == object, column
        assert all(isinstance(v, str) for v in small[column].dropna()), column
    assert set(small["plan"]) == {"basic", "standard", "premium"}
    assert small["region"].nunique() == 5
    assert set(small["channel"].dropna()) == {"web", "app", "store"}


@pytest.mark.parametrize("rows", [1, 999, 12_345])
def test_row_count_is_exact_and_inside_the_history(rows: int) -> None:
    spec = DemoSpec(rows=rows, days=90, start=datetime.date(2024, 2, 10))
    frame = generate(spec)
    assert len(frame) == rows
    assert frame.index.equals(pd.RangeIndex(rows))
    assert frame["event_time"].min() >= pd.Timestamp("2024-02-10", tz="UTC")
    assert frame["event_time"].max() < pd.Timestamp("2024-02-10", tz="UTC") + pd.Timedelta(days=90)
    assert frame["event_time"].is_monotonic_increasing


def test_events_are_spread_within_days(small: pd.DataFrame) -> None:
    assert (small["event_time"].dt.floor("D") != small["event_time"]).mean() > 0.99
    by_hour = small["event_time"].dt.hour.value_counts()
    assert len(by_hour) == 24
    assert by_hour[11] > 3 * by_hour[3]  # busier in the day than at night


@pytest.mark.parametrize("drift", DRIFT_KINDS)
def test_positive_rate_stays_in_range_every_month(drift: str) -> None:
    frame = generate(dataclasses.replace(SMALL, drift=drift, drift_strength=2.0))
    assert 0.08 <= frame["label"].mean() <= 0.15
    monthly = frame.groupby(frame["event_time"].dt.strftime("%Y-%m"))["label"].agg(["mean", "size"])
    full_months = monthly[monthly["size"] > 2_000]
    assert full_months["mean"].between(0.08, 0.15).all(), full_months


def test_missing_values(small: pd.DataFrame) -> None:
    assert 0.065 <= small["discount_pct"].isna().mean() <= 0.095
    assert 0.02 <= small["channel"].isna().mean() <= 0.04
    others = [c for c in COLUMNS if c not in ("discount_pct", "channel")]
    assert not small[others].isna().any().any()


def test_weekend_volume_is_lower(small: pd.DataFrame) -> None:
    per_day = small.groupby(small["event_time"].dt.floor("D")).size()
    weekend = per_day.index.dayofweek >= 5
    ratio = per_day[weekend].mean() / per_day[~weekend].mean()
    assert 0.5 <= ratio <= 0.7


@pytest.mark.parametrize("mean_delay", [0.0, 2.0, 7.0])
def test_label_time_follows_the_event_with_the_spec_mean_delay(mean_delay: float) -> None:
    frame = generate(DemoSpec(rows=20_000, days=120, label_delay_days=mean_delay))
    delay_days = (frame["label_time"] - frame["event_time"]).dt.total_seconds() / 86_400
    assert (delay_days >= 0).all()
    assert delay_days.mean() == pytest.approx(mean_delay, rel=0.03, abs=1e-9)


def test_chunks_are_calendar_months_that_concatenate_to_generate(small: pd.DataFrame) -> None:
    chunks = list(generate_chunks(SMALL))
    assert len(chunks) >= 9  # 280 days from 2023-01-02 touch 10 calendar months
    months = [chunk["event_time"].dt.strftime("%Y-%m").unique() for chunk in chunks]
    assert all(len(m) == 1 for m in months)
    assert len({m[0] for m in months}) == len(chunks)
    assert max(len(chunk) for chunk in chunks) < 1.5 * SMALL.rows * 31 / SMALL.days
    pd.testing.assert_frame_equal(pd.concat(chunks), small)


def test_zero_strength_is_no_drift() -> None:
    spec = DemoSpec(rows=5_000, days=60, drift="none")
    for drift in ("gradual", "abrupt", "recurring"):
        without_strength = dataclasses.replace(spec, drift=drift, drift_strength=0.0)
        pd.testing.assert_frame_equal(generate(without_strength), generate(spec))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rows", 0),
        ("days", -1),
        ("drift", "sudden"),
        ("drift_date", datetime.date(2023, 1, 2)),  # the first day: nothing before the drift
        ("drift_date", datetime.date(2030, 1, 1)),
        ("drift_strength", -0.5),
        ("drift_strength", float("nan")),
        ("recurring_period_days", 0),
        ("label_delay_days", -1.0),
    ],
)
def test_invalid_spec_names_the_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"DemoSpec\.{field} .*{value}"):
        DemoSpec(**{field: value})


# --- drift behaviour, measured with a plain logistic regression ---------------------------------


def test_no_drift_keeps_quality() -> None:
    spec = DemoSpec(rows=60_000, days=300, drift="none", seed=3)
    frame = generate(spec)
    model = fit(window(spec, frame, 0, 60))
    near, far = auc(model, window(spec, frame, 60, 120)), auc(model, window(spec, frame, 240, 300))
    assert 0.8 <= near <= 0.92  # a realistic, not trivial, problem
    assert abs(near - far) < 0.03


def test_gradual_drift_loss_grows_with_distance() -> None:
    spec = DemoSpec(rows=80_000, days=300, drift="gradual", seed=5)
    frame = generate(spec)
    model = fit(window(spec, frame, 0, 90))
    scores = [auc(model, window(spec, frame, start, start + 70)) for start in (90, 160, 230)]
    assert scores[0] > scores[1] > scores[2]
    assert scores[0] - scores[2] >= 0.05
    fresh = fit(window(spec, frame, 160, 230))
    assert auc(fresh, window(spec, frame, 230, 300)) > scores[2] + 0.05  # the new concept is learnable


@pytest.mark.parametrize("drift_date", [None, datetime.date(2023, 7, 17)])
def test_abrupt_drift_loses_quality_from_the_drift_date_on(drift_date: datetime.date | None) -> None:
    spec = DemoSpec(rows=60_000, days=280, drift="abrupt", drift_date=drift_date, seed=9)
    drift_day = (drift_date - spec.start).days if drift_date else spec.days // 2
    frame = generate(spec)
    train, held_out = split(window(spec, frame, drift_day - 70, drift_day - 14))
    model = fit(train)
    in_sample_period = auc(model, held_out)
    just_before = auc(model, window(spec, frame, drift_day - 14, drift_day))
    first_week_after = auc(model, window(spec, frame, drift_day, drift_day + 7))
    eight_weeks_after = auc(model, window(spec, frame, drift_day, drift_day + 56))
    assert abs(in_sample_period - just_before) < 0.03
    assert just_before - first_week_after >= 0.08
    assert just_before - eight_weeks_after >= 0.08


def test_recurring_drift_drops_then_recovers() -> None:
    spec = DemoSpec(rows=80_000, days=300, drift="recurring", recurring_period_days=240, seed=13)
    frame = generate(spec)
    train, held_out = split(window(spec, frame, 0, 42))
    model = fit(train)
    start = auc(model, held_out)
    half_period = auc(model, window(spec, frame, 100, 140))
    full_period = auc(model, window(spec, frame, 220, 260))
    assert start - half_period >= 0.08
    assert full_period - half_period >= 0.08
    assert abs(full_period - start) < 0.03
