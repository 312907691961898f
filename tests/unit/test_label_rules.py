"""Task inference and the positive class (pure rules of the source module)."""

import pytest
from pyspark.sql import types as T

from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.spark.source import _infer_task, _positive_label


@pytest.mark.parametrize(
    "kind, values, expected",
    [
        (T.StringType(), ["no", "yes"], "binary"),
        (T.StringType(), ["a", "b", "c"], "multiclass"),
        (T.IntegerType(), [0, 1], "binary"),
        (T.IntegerType(), list(range(20)), "multiclass"),
        (T.IntegerType(), list(range(21)), "regression"),
        (T.DoubleType(), [0.0, 1.0], "binary"),
        (T.DoubleType(), [0.5, 1.5], "regression"),
    ],
)
def test_task_is_inferred_from_type_and_values(kind, values, expected):
    assert _infer_task(kind, len(values), values) == expected


def test_positive_label_defaults_to_one_true_or_the_larger_value():
    assert _positive_label([0, 1], None, "y") == 1
    assert _positive_label([False, True], None, "y") is True
    assert _positive_label([5, 10], None, "y") == 10
    assert _positive_label(["churned", "stayed"], None, "y") == "stayed"


def test_configured_positive_label_matches_across_types_or_is_refused():
    assert _positive_label([0.0, 1.0], 1, "y") == 1.0
    assert _positive_label(["no", "yes"], "yes", "y") == "yes"
    with pytest.raises(SourceError, match="positive_label 'maybe' does not occur in column 'y'"):
        _positive_label(["no", "yes"], "maybe", "y")
