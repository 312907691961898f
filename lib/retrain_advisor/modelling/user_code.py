"""The code behind a recipe: the module that defines it, every module of the user's it reaches
through imports, and the versions of the installed packages those modules use. A change to a
helper the factory calls, or an upgraded xgboost, is a changed recipe although the config is not."""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

INSTALLED = ("site-packages", "dist-packages")
# Known by their versions (`library_versions`) wherever they are installed from.
LIBRARIES = ("sklearn", __name__.split(".")[0])


@dataclass
class RecipeCode:
    modules: dict[str, Path] = field(default_factory=dict)  # the source files hashed, by module name
    packages: dict[str, str] = field(default_factory=dict)  # installed distributions used, by version

    def fingerprint(self) -> str:
        """A hash of the modules' source and the packages' versions (empty when neither)."""
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
    """What `obj` (a factory or estimator class) runs. Its own module is hashed unless it is
    scikit-learn's or this package's (so an estimator from a wheel rebuilt under the same version
    still counts as changed). From there, every module the hashed ones import, found by reading
    their source (`import helpers`, `from .params import PARAMS`, imports inside functions), and
    their parent packages: hashed when they are the user's, kept by version when installed, left
    out when they are the standard library's."""
    code = RecipeCode()
    installed: set[str] = set()
    root = _module_of(obj)
    pending = [] if root is None else [root.__name__]
    while pending:
        name = pending.pop()
        top = name.split(".")[0]
        if name in code.modules or top in installed:
            continue
        path = _file_of(name)
        if path is None:
            continue
        if top in LIBRARIES or _is_installed(path):
            installed.add(top)
            if top in LIBRARIES or root is None or name != root.__name__:
                continue
        elif _is_standard(path):
            continue
        code.modules[name] = path
        pending += [*_imports(name, path), *_parents(name)]
    code.packages = _versions(installed)
    return code


def _module_of(value: Any) -> ModuleType | None:
    try:
        if isinstance(value, ModuleType):
            return value
        name = getattr(value, "__module__", None)
        return sys.modules.get(name) if isinstance(name, str) else None
    except Exception:  # an object whose attributes are computed, and fail
        return None


def _file_of(name: str) -> Path | None:
    """The source file of module `name`: the loaded module's, else where the import system finds
    it (an import inside a function not called yet); None when it has no .py file."""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None) if module is not None else None
    if module is None:
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # not a module (a name inside one), or its parent fails to import
            return None
        file = spec.origin if spec is not None else None
    return Path(file).resolve() if isinstance(file, str) and file.endswith(".py") else None


def _imports(name: str, path: Path) -> list[str]:
    """The modules `name`'s source imports, relative imports resolved; for `from m import x`,
    both m and m.x (x may be a submodule)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            try:
                module = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            except (ImportError, ValueError):
                continue
            found += [module, *(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")]
    return found


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_installed(path: Path) -> bool:
    return any(part in INSTALLED for part in path.parts)


def _is_standard(path: Path) -> bool:
    return any(path.is_relative_to(folder) for folder in _standard_library())


@functools.cache
def _standard_library() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple({Path(paths[key]).resolve() for key in ("stdlib", "platstdlib")})


def _versions(top_level: set[str]) -> dict[str, str]:
    distributions = _distributions()
    names = {name for package in top_level for name in distributions.get(package, [package])}
    versions = {}
    for name in sorted(names):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Each importable top-level package's distributions (reads every installed one's metadata)."""
    return dict(metadata.packages_distributions())
