"""Task inference and the positive class (pure rules of the label module)."""

from decimal import Decimal

import pytest
from pyspark.sql import types as T

from retrain_advisor.foundation.errors import SourceError
from retrain_advisor.spark.labels import infer_task, positive_label


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
    assert infer_task(kind, len(values), values) == expected


def test_positive_label_defaults_to_one_true_or_a_recognised_name():
    assert positive_label([0, 1], None, "y") == 1
    assert positive_label([-1, 1], None, "y") == 1
    assert positive_label([Decimal("0.0"), Decimal("1.0")], None, "y") == Decimal("1.0")
    assert positive_label([False, True], None, "y") is True
    assert positive_label(["No", "Yes"], None, "y") == "Yes"
    assert positive_label(["false", "true"], None, "y") == "true"
    assert positive_label(["0", "1"], None, "y") == "1"


@pytest.mark.parametrize("values", [["churn", "stay"], ["churned", "stayed"], [5, 10], ["a", "yes"]])
def test_the_positive_class_is_never_guessed_from_the_order_of_the_values(values):
    with pytest.raises(SourceError, match=r"set positive_label to one of them"):
        positive_label(values, None, "y")


def test_configured_positive_label_matches_across_types_or_is_refused():
    assert positive_label([0.0, 1.0], 1, "y") == 1.0
    assert positive_label(["no", "yes"], "yes", "y") == "yes"
    with pytest.raises(SourceError, match="positive_label 'maybe' does not occur in column 'y'"):
        positive_label(["no", "yes"], "maybe", "y")
