"""compat/runtime_install.py rests on two things pip could stop doing: counting the listed
libraries as installed, and reading markers for the runtime's Python. Checked offline: the wheels
are written here and pip gets --no-index."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "compat" / "runtime_install.py"


def load_script():
    spec = importlib.util.spec_from_file_location("runtime_install", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def write_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def dry_run(tmp_path: Path, python: str, requires: tuple[str, ...]):
    script = load_script()
    index = tmp_path / "index"
    index.mkdir()
    write_wheel(index, "toolz", "1.0")
    write_wheel(index, "numpy", "2.0.0")
    probe = write_wheel(tmp_path, "probe", "1.0", requires)
    runtime = script.Runtime("dbr-test", python, {"pandas": ("pandas", "1.5.3"), "numpy": ("numpy", "1.23.5")})
    environment = script.make_environment(tmp_path, runtime)
    report = script.pip_dry_run(tmp_path, environment, runtime, probe, ("--no-index", "--find-links", str(index)))
    found = script.changes(runtime, report, "probe")
    return [(change.name, change.kind) for change in found], script.table(runtime, found)


@pytest.mark.parametrize(("python", "added"), [("3.11", [("toolz", "added")]), ("3.12.3", [])])
def test_listed_libraries_count_as_installed_and_markers_are_the_runtimes(tmp_path, python, added):
    requires = ("pandas>=1.5", "numpy>=1.23", 'toolz; python_version < "3.12"')
    found, (text, ok) = dry_run(tmp_path, python, requires)
    # numpy 2.0.0 is on offer, but the listed 1.23.5 satisfies numpy>=1.23: pip keeps it
    assert found == added
    assert ok, text


def test_a_protected_library_that_would_change_fails(tmp_path):
    found, (text, ok) = dry_run(tmp_path, "3.12.3", ("numpy>=2",))
    assert found == [("numpy", "upgraded")]
    assert not ok and "numpy" in text.splitlines()[-1]
