from __future__ import annotations

import pytest
from sklearn.pipeline import Pipeline

from retrain_advisor.foundation.config import ModelConfig
from retrain_advisor.foundation.errors import RecipeError
from retrain_advisor.modelling.metrics import resolve_metrics
from retrain_advisor.modelling.recipe import build_estimator, check_recipe


def make_forest(numeric_features, categorical_features, n_estimators=5):
    """A factory as a user would write it: takes the feature lists it wants."""
    from sklearn.ensemble import RandomForestClassifier

    from retrain_advisor.modelling.recipe import standard_preprocessing

    return Pipeline(
        [
            ("prep", standard_preprocessing(numeric_features, categorical_features)),
            ("forest", RandomForestClassifier(n_estimators=n_estimators)),
        ]
    )


def test_estimator_import_errors_name_the_key():
    with pytest.raises(RecipeError, match="model.estimator 'sklearn.nope.Thing'.*cannot be imported"):
        check_recipe(ModelConfig(estimator="sklearn.nope.Thing"), "binary", ["x"], [])
    with pytest.raises(RecipeError, match="has no attribute 'Nothing'"):
        check_recipe(ModelConfig(estimator="sklearn.linear_model.Nothing"), "binary", ["x"], [])


def test_bad_params_are_reported():
    with pytest.raises(RecipeError, match="model.params"):
        check_recipe(
            ModelConfig(estimator="sklearn.linear_model.LogisticRegression", params={"nope": 1}), "binary", ["x"], []
        )


def test_classifier_without_probabilities_is_rejected():
    with pytest.raises(RecipeError, match="predict_proba"):
        check_recipe(ModelConfig(estimator="sklearn.svm.LinearSVC"), "binary", ["x"], [])


def test_factory_gets_the_features_it_asks_for_and_seeds_are_set():
    config = ModelConfig(factory=f"{__name__}:make_forest", params={"n_estimators": 7})
    estimator = build_estimator(config, "binary", ["x"], ["c"], seed=42)
    assert estimator.get_params()["forest__n_estimators"] == 7
    assert estimator.get_params()["forest__random_state"] == 42


def test_metrics_are_checked_against_the_task():
    with pytest.raises(ValueError, match="'rmse' is not available for a binary task"):
        resolve_metrics("binary", ["roc_auc", "rmse"])
    assert [m.name for m in resolve_metrics("regression", None)] == ["rmse", "mae", "r2"]
