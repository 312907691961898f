"""A recipe's code is the user's modules it reaches and the installed packages they use: a module
the factory imports (here a dict of parameters, which names no module of its own) changes the
incremental runs' inputs key as surely as the factory itself."""

from __future__ import annotations

import importlib
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from retrain_advisor.modelling.user_code import recipe_code
from retrain_advisor.run.reuse import inputs_key
from tests.unit.test_reuse import study

HELPER = """
from sklearn.linear_model import LogisticRegression

def estimator(**params):
    return LogisticRegression(**params)
"""
PARAMS = """
PARAMS = {{"C": {c}}}
"""
RECIPE = """
import json
import sklearn

from .helpers import estimator
from .params import PARAMS

def make_model(task, numeric, categorical):
    return estimator(**PARAMS)
"""


@pytest.fixture
def recipe_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = tmp_path / "team_recipes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "recipe.py").write_text(textwrap.dedent(RECIPE))
    (package / "helpers.py").write_text(textwrap.dedent(HELPER))
    monkeypatch.syspath_prepend(str(tmp_path))

    def write_params(c: float) -> None:
        (package / "params.py").write_text(textwrap.dedent(PARAMS.format(c=c)))
        for name in [m for m in sys.modules if m.startswith("team_recipes")]:
            del sys.modules[name]
        importlib.invalidate_caches()

    yield write_params
    for name in [m for m in sys.modules if m.startswith("team_recipes")]:
        del sys.modules[name]


def test_the_recipe_reaches_the_modules_it_imports_and_the_packages_they_use(recipe_package):
    recipe_package(1.0)
    from team_recipes.recipe import make_model

    code = recipe_code(make_model)
    assert sorted(code.modules) == [  # not json, a standard module
        "team_recipes",
        "team_recipes.helpers",
        "team_recipes.params",
        "team_recipes.recipe",
    ]
    assert code.packages == {"scikit-learn": metadata.version("scikit-learn")}


def test_a_changed_constant_in_an_imported_module_changes_the_inputs_key(recipe_package):
    factory = {"model": {"estimator": None, "factory": "team_recipes.recipe.make_model"}}
    recipe_package(1.0)
    key = inputs_key(study(**factory))
    assert inputs_key(study(**factory)) == key
    recipe_package(0.5)
    assert inputs_key(study(**factory)) != key
