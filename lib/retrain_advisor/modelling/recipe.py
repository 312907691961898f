"""The model recipe: turn the `model` config into an unfitted scikit-learn estimator."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from retrain_advisor.foundation.config import ModelConfig, Task
from retrain_advisor.foundation.errors import RecipeError

MAX_CATEGORIES = 64


def import_object(path: str, key: str) -> Any:
    """Import `package.module.Name` or `package.module:Name`."""
    module_name, sep, attr = path.partition(":") if ":" in path else path.rpartition(".")
    if not sep or not module_name or not attr:
        raise RecipeError(f"{key} {path!r} must be an import path such as sklearn.linear_model.LogisticRegression")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise RecipeError(
            f"{key} {path!r}: module {module_name!r} cannot be imported ({error}); "
            "install it on the driver and the workers, or fix the path"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise RecipeError(f"{key} {path!r}: module {module_name!r} has no attribute {attr!r}") from None


def default_pipeline(task: Task, numeric: list[str], categorical: list[str]) -> Pipeline:
    """Histogram gradient boosting: handles missing numbers natively, categories by ordinal codes."""
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=MAX_CATEGORIES,
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    is_categorical = [False] * len(numeric) + [True] * len(categorical)
    booster_class = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    booster = booster_class(categorical_features=is_categorical or None, max_iter=100, early_stopping=False)
    return Pipeline([("encode", encode), ("model", booster)])


def standard_preprocessing(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Median-impute and scale numbers; one-hot encode categories (rare and unseen ones ignored)."""
    return ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="__missing__"),
                    OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES),
                ),
                categorical,
            ),
        ]
    )


def build_estimator(
    config: ModelConfig, task: Task, numeric: list[str], categorical: list[str], seed: int
) -> BaseEstimator:
    """An unfitted estimator for one fit, with every random_state set from `seed`."""
    if config.factory:
        factory = import_object(config.factory, "model.factory")
        accepted = inspect.signature(factory).parameters
        context = {"task": task, "numeric_features": numeric, "categorical_features": categorical, "seed": seed}
        kwargs = {k: v for k, v in context.items() if k in accepted} | config.params
        estimator = factory(**kwargs)
    elif config.estimator:
        estimator_class = import_object(config.estimator, "model.estimator")
        try:
            estimator = estimator_class(**config.params)
        except TypeError as error:
            raise RecipeError(f"model.params do not fit {config.estimator}: {error}") from None
        if config.preprocess:
            estimator = Pipeline([("encode", standard_preprocessing(numeric, categorical)), ("model", estimator)])
    else:
        estimator = default_pipeline(task, numeric, categorical)
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
        raise RecipeError(f"the model recipe returned {type(estimator).__name__}, which has no fit/predict")
    return seed_estimator(clone(estimator), seed)


def seed_estimator(estimator: BaseEstimator, seed: int) -> BaseEstimator:
    """Set every (nested) random_state parameter, so a rerun trains the same model."""
    seeds = {name: seed for name in estimator.get_params(deep=True) if name.split("__")[-1] == "random_state"}
    return estimator.set_params(**seeds)


def check_recipe(config: ModelConfig, task: Task, numeric: list[str], categorical: list[str]) -> None:
    """Build the estimator once on the driver so a bad import path fails before any Spark work."""
    estimator = build_estimator(config, task, numeric, categorical, seed=0)
    if task != "regression" and not hasattr(estimator, "predict_proba"):
        raise RecipeError(
            f"a {task} task needs predict_proba; {type(estimator).__name__} has none "
            "(use a probabilistic classifier, or wrap it in CalibratedClassifierCV)"
        )
