import pandas as pd

from retrain_advisor.analyses.arrival.rules import complete_periods, summarize_arrival


def counts(periods: dict[int, int], slice_value=None, delay_p90=None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period_id": list(periods),
            "slice_value": slice_value,
            "rows": list(periods.values()),
            "labelled_rows": list(periods.values()),
            "target_average": 0.1,
            "label_delay_days_p50": None,
            "label_delay_days_p90": delay_p90,
            "label_delay_days_max": None,
            "class_counts": [{}] * len(periods),
        }
    )


def test_empty_periods_are_added_and_thin_ones_flagged():
    table = complete_periods(counts({1: 1000, 2: 1000, 4: 100, 5: 1000}), 1, 5, 50, "binary")
    assert table["period_id"].tolist() == [1, 2, 3, 4, 5]
    assert table["is_empty"].tolist() == [False, False, True, False, False]
    assert table["is_thin"].tolist() == [False, False, False, True, False]  # 100 < a quarter of the median 1000
    assert table.loc[2, "rows"] == 0 and pd.isna(table.loc[2, "positive_rate"])


def test_every_slice_is_completed_on_its_own():
    both = pd.concat([counts({1: 10, 3: 10}), counts({1: 5, 2: 5, 3: 5}, "a")], ignore_index=True)
    table = complete_periods(both, 1, 3, 1, "regression")
    assert len(table) == 6
    assert table.groupby(table["slice_value"].fillna("all"))["is_empty"].sum().to_dict() == {"a": 0, "all": 1}
    assert table["target_mean"].notna().sum() == 5 and table["positive_rate"].isna().all()


def test_cadence_and_label_delay_in_periods():
    monthly_batches = complete_periods(counts({1: 500, 5: 500, 9: 500}, delay_p90=10.0), 1, 9, 1, "binary")
    summary = summarize_arrival(monthly_batches, gap=0, unit="week")
    assert summary.batch_cadence_periods == 4
    assert summary.label_delay_periods == 2  # 10 days is two whole weeks
    assert summary.median_labelled_rows == 500
    assert summarize_arrival(monthly_batches, gap=3, unit="week").label_delay_periods == 3
    exact = complete_periods(counts({1: 5, 2: 5}, delay_p90=14.0), 1, 2, 1, "binary")
    assert summarize_arrival(exact, gap=0, unit="week").label_delay_periods == 2
