"""What installing the wheel on a Databricks runtime would change there, without a runtime.

For each list in compat/runtimes/ (the Python libraries a runtime ships, one name==version a line,
its Python version in a "# python: X.Y[.Z]" header line) this builds the wheel once
(``pip wheel --no-deps``, from a scratch copy of the sources), makes a throwaway virtual
environment in which every library of the list counts as installed (a minimal
``<name>-<version>.dist-info`` with METADATA, INSTALLER and RECORD; nothing is downloaded), and
asks pip what ``pip install <wheel>`` would do there: ``pip install --dry-run --report``.
It prints, per runtime, the libraries pip would upgrade or downgrade and the ones it would add, and
exits 1 if any PROTECTED library would change or be added (pandas, pyarrow, numpy, pyspark,
mlflow-skinny, mlflow, delta-spark): those belong to the runtime, and a second copy shadows or
breaks the runtime's Spark and MLflow. Other changes (pydantic 1 -> 2 on 15.4 LTS) are reported,
not failures. Exit 2 means the check could not run (no package index, or pip found no solution).

The runtime's Python, not this one, decides: pip gets ``--python-version`` (Requires-Python and
wheel tags), and the environment markers (``python_version < "3.12"``) are evaluated for the
runtime's Python too, which pip's own option does not do. Source distributions stay allowed, as on
the runtime (pyspark has no wheels); their metadata is built by this Python.

    .venv/bin/python compat/runtime_install.py                 # every list in compat/runtimes/
    .venv/bin/python compat/runtime_install.py compat/runtimes/dbr-17.3-lts.txt
    .venv/bin/python compat/runtime_install.py --with "databricks-sdk>=0.20,<1"   # a dependency to be

pip's resolver does not weigh what the installed libraries themselves require, on the runtime as
here, so the tables are what pip would do there. Whether an upgrade breaks another runtime library
(pip's warning after installing; the libraries' own requirements are not listed here) is for a
reader of the tables to judge.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIMES = Path(__file__).resolve().parent / "runtimes"
PROTECTED = ("pandas", "pyarrow", "numpy", "pyspark", "mlflow-skinny", "mlflow", "delta-spark")
# what the wheel is built from (pyproject.toml: readme, packages under lib/)
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "LICENSE.txt", "NOTICE", "MANIFEST.in")

# Runs pip inside the throwaway environment. It imports pip from a folder that holds nothing but
# a link to this venv's pip (so no other distribution becomes visible), makes the marker
# environment the runtime's Python before pip reads any requirement, and lets --python-version go
# with source distributions: pip refuses that pair because a source distribution's metadata is
# built by this Python, which for a dry run's report is what we accept (pyspark has no wheels).
RUNNER = """\
import sys
pip_dir, python_version, python_full_version = sys.argv[1:4]
sys.path.insert(0, pip_dir)
from pip._vendor.packaging import markers
_default_environment = markers.default_environment
def _runtime_environment():
    env = _default_environment()
    env["python_version"] = python_version
    env["python_full_version"] = python_full_version
    return env
markers.default_environment = _runtime_environment
from pip._internal.cli import cmdoptions
cmdoptions.check_dist_restriction = lambda options, check_target=False: None
from pip._internal.cli.main import main
sys.exit(main(sys.argv[4:]))
"""


@dataclass
class Runtime:
    name: str
    python: str
    installed: dict[str, tuple[str, str]] = field(default_factory=dict)  # canonical -> (name, version)

    @property
    def python_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def python_full(self) -> str:
        parts = self.python.split(".")
        return self.python if len(parts) == 3 else f"{self.python_minor}.0"


@dataclass
class Change:
    name: str
    before: str | None  # None: added
    after: str

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if Version(self.after) == Version(self.before):
            return "reinstalled"
        return "upgraded" if Version(self.after) > Version(self.before) else "downgraded"


def read_runtime(path: Path) -> Runtime:
    python = None
    installed: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        header = re.match(r"#\s*python:\s*(3\.\d+(?:\.\d+)?)\s*$", line)
        if header:
            python = header.group(1)
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise SystemExit(f"{path}:{number}: expected name==version, got {raw!r}")
        Version(version.strip())  # fails loudly on a version pip could not read
        installed[canonicalize_name(name.strip())] = (name.strip(), version.strip())
    if python is None:
        raise SystemExit(f"{path}: no '# python: X.Y' header line")
    return Runtime(path.name.removesuffix(".txt"), python, installed)


def add_requirements(pyproject: Path, requirements: list[str]) -> None:
    """Adds requirements to [project] dependencies of a scratch copy's pyproject.toml."""
    text = pyproject.read_text()
    opening = re.search(r"(?m)^dependencies\s*=\s*\[\s*$", text)
    if opening is None:
        raise SystemExit(f"{pyproject}: no 'dependencies = [' line to add {requirements} to")
    added = "".join(f"    {json.dumps(requirement)},\n" for requirement in requirements)
    pyproject.write_text(text[: opening.end() + 1] + added + text[opening.end() + 1 :])


def build_wheel(work: Path, extra_requirements: list[str]) -> Path:
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    if extra_requirements:
        add_requirements(source / "pyproject.toml", extra_requirements)
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(source)])
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel in {dist}, found {[w.name for w in wheels]}")
    return wheels[0]


def fake_installed(site_packages: Path, name: str, version: str) -> None:
    """A dist-info that pip reads as an installed distribution, with no files of its own."""
    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
    info = site_packages / stem
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("".join(f"{stem}/{file},,\n" for file in ("METADATA", "INSTALLER", "RECORD")))


def make_environment(work: Path, runtime: Runtime) -> Path:
    """A virtual environment (this machine's Python) whose site-packages lists the runtime's libraries."""
    venv = work / f"venv-{runtime.name}"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for name, version in runtime.installed.values():
        fake_installed(Path(purelib), name, version)
    return python


def pip_dry_run(work: Path, python: Path, runtime: Runtime, wheel: Path, pip_args: tuple[str, ...] = ()) -> dict:
    import pip  # this venv's pip, run inside the throwaway environment

    pip_dir = work / "pip-only"
    if not pip_dir.exists():
        pip_dir.mkdir()
        (pip_dir / "pip").symlink_to(Path(pip.__file__).parent)
        (work / "runner.py").write_text(RUNNER)
    report = work / f"report-{runtime.name}.json"
    command = [str(python), str(work / "runner.py"), str(pip_dir), runtime.python_minor, runtime.python_full]
    command += ["install", "--dry-run", "--quiet", "--report", str(report), "--disable-pip-version-check"]
    command += ["--no-input", "--python-version", runtime.python_minor, *pip_args, str(wheel)]
    run(command, env={**os.environ, "PIP_REQUIRE_VIRTUALENV": "0", "PYTHONNOUSERSITE": "1"})
    return json.loads(report.read_text())


def changes(runtime: Runtime, report: dict, wheel_name: str) -> list[Change]:
    found = []
    for item in report["install"]:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        key = canonicalize_name(name)
        if key == wheel_name:
            continue
        before = runtime.installed.get(key)
        found.append(Change(before[0] if before else name, before[1] if before else None, version))
    order = ("upgraded", "downgraded", "reinstalled", "added")
    return sorted(found, key=lambda change: (order.index(change.kind), canonicalize_name(change.name)))


def table(runtime: Runtime, found: list[Change]) -> tuple[str, bool]:
    """The runtime's changes as text, and whether every protected library is left alone."""
    changed = {canonicalize_name(change.name) for change in found}
    broken = [change for change in found if canonicalize_name(change.name) in PROTECTED]
    lines = [f"== {runtime.name} (Python {runtime.python}, {len(runtime.installed)} libraries installed)"]
    if found:
        width = max(len(change.name) for change in found)
        for change in found:
            mark = "  PROTECTED" if change in broken else ""
            before = change.before or "-"
            lines.append(f"  {change.kind:<10} {change.name:<{width}}  {before} -> {change.after}{mark}")
    else:
        lines.append("  nothing changed or added")
    kept = [
        f"{name} {version}"
        for key, (name, version) in sorted(runtime.installed.items())
        if key in PROTECTED and key not in changed
    ]
    absent = [key for key in PROTECTED if key not in runtime.installed and key not in changed]
    lines.append(f"  left alone: {', '.join(kept) or '-'}; not added: {', '.join(absent) or '-'}")
    lines.append(
        f"  FAIL: installing the wheel would replace or add {', '.join(c.name for c in broken)}"
        if broken
        else "  ok: no protected library changes"
    )
    return "\n".join(lines), not broken


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        sys.stderr.write(f"runtime_install: failed ({result.returncode}): {' '.join(command)}\n")
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runtimes", nargs="*", type=Path, help="runtime lists (default: compat/runtimes/*.txt)")
    parser.add_argument(
        "--with",
        dest="extra",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="check as if REQUIREMENT were one more dependency (added to a scratch copy of pyproject.toml)",
    )
    args = parser.parse_args(argv)
    paths = args.runtimes or sorted(RUNTIMES.glob("*.txt"))
    if not paths:
        raise SystemExit(f"no runtime lists in {RUNTIMES}")
    runtimes = [read_runtime(path) for path in paths]
    started = time.monotonic()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="runtime-install-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work, args.extra)
        wheel_name = canonicalize_name(wheel.name.split("-")[0])
        extra = f" with {', '.join(args.extra)}" if args.extra else ""
        print(f"pip install {wheel.name}{extra} on each runtime (dry run; protected: {', '.join(PROTECTED)})")
        for runtime in runtimes:
            python = make_environment(work, runtime)
            text, runtime_ok = table(runtime, changes(runtime, pip_dry_run(work, python, runtime, wheel), wheel_name))
            print(text)
            failed += not runtime_ok
    print(f"checked in {time.monotonic() - started:.0f} s")
    print(f"runtimes: {len(runtimes) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
