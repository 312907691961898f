"""The code behind a recipe: the user's module that defines it, every module of theirs it reaches
through imports, and the versions of the installed packages those modules use. A change to a
helper the factory calls, or an upgraded xgboost, is a changed recipe although the config is not."""

from __future__ import annotations

import hashlib
import json
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

INSTALLED = ("site-packages", "dist-packages")
OWN_PACKAGE = __name__.split(".")[0]  # known by its version wherever it is installed from


@dataclass
class RecipeCode:
    modules: dict[str, Path] = field(default_factory=dict)  # the user's modules, by name
    packages: dict[str, str] = field(default_factory=dict)  # installed distributions they use, by version

    def fingerprint(self) -> str:
        """A hash of the user's modules' source and the packages' versions (empty when neither)."""
        if not self.modules and not self.packages:
            return ""
        digest = hashlib.sha1(json.dumps(self.packages, sort_keys=True).encode())
        for name, path in sorted(self.modules.items()):
            try:
                digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
            except OSError:  # a module whose file went away since it was imported
                digest.update(name.encode() + b"\0")
        return digest.hexdigest()


def recipe_code(obj: Any) -> RecipeCode:
    """What `obj` (a factory or estimator class) runs: its own module when it is the user's, then,
    transitively, every module the user's modules take names from (`import helpers`,
    `from .features import build`); installed packages met on the way are kept by version, the
    standard library is left out."""
    code = RecipeCode()
    installed: set[str] = set()
    pending = [_module_of(obj)]
    while pending:
        module = pending.pop()
        if module is None or module.__name__ in code.modules:
            continue
        path = _file_of(module)
        if path is None or path.is_relative_to(_standard_library()):
            continue
        if any(part in INSTALLED for part in path.parts) or module.__name__.split(".")[0] == OWN_PACKAGE:
            installed.add(module.__name__.split(".")[0])
            continue
        code.modules[module.__name__] = path
        pending += [_module_of(value) for value in list(vars(module).values())]
    code.packages = _versions(installed)
    return code


def _module_of(value: Any) -> ModuleType | None:
    if isinstance(value, ModuleType):
        return value
    name = getattr(value, "__module__", None)
    return sys.modules.get(name) if isinstance(name, str) else None


def _file_of(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if isinstance(file, str) and file.endswith(".py") else None


def _standard_library() -> Path:
    return Path(sysconfig.get_paths()["stdlib"]).resolve()


def _versions(top_level: set[str]) -> dict[str, str]:
    distributions = metadata.packages_distributions()
    names = {name for package in top_level for name in distributions.get(package, [package])}
    versions = {}
    for name in sorted(names):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions
