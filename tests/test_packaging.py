"""The wheel: built from the source tree, it holds every module and data file of the package,
declares the extras, installs into a fresh venv, and every module imports there and the `lossmon`
entry point runs.

Offline: the wheel is built with --no-build-isolation (the setuptools of this environment), and the
fresh venv gets its third-party packages (torch, numpy, textual, Lightning, ...) from this one's
site-packages through a .pth path line, so nothing is downloaded. Path lines are not site dirs, so
the .pth files over there (this environment's editable lossmon among them) stay inactive: lossmon
itself comes from the wheel only, which the test checks."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the package depends on tomli there
    import tomli as tomllib

pytestmark = pytest.mark.slow

RUNTIME = ("torch", "numpy", "textual")  # the package's runtime deps, taken from this environment
FRAMEWORKS = {"lossmon.integrations.lightning": "lightning", "lossmon.integrations.transformers": "transformers"}


def source_files() -> set[str]:
    """What the wheel must hold: every module under lossmon/ and the package data."""
    pkg = ROOT / "lossmon"
    files = {p for p in pkg.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    return {p.relative_to(ROOT).as_posix() for p in files}


def modules() -> list[str]:
    out = []
    for rel in sorted(source_files()):
        if rel.endswith(".py") and not rel.endswith("__main__.py"):
            parts = rel[:-3].split("/")
            out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def run(cmd, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("building the wheel offline needs setuptools>=77 here (it is in the test extra)")
    # Build from a copy of what an sdist holds, so no build/ or egg-info is left in the checkout
    # (a stale build/lib could also put deleted modules into the wheel).
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "lossmon", src / "lossmon", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    r = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
             str(src), "-w", str(out)], cwd=src)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("lossmon-*.whl")
    return whl


def test_the_wheel_holds_every_module_and_data_file_and_declares_the_extras(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = next(z.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(z.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert source_files() - names == set()
    assert {"lossmon/views/tui/app.tcss", "lossmon/py.typed"} <= names
    assert not any(n.startswith(("tests/", "demos/", "benchmarks/")) for n in names)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    declared = {line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Provides-Extra:")}
    assert declared == set(extras)
    assert "lossmon = lossmon.cli:main" in entry_points


def test_the_wheel_installs_into_a_fresh_venv_and_every_module_imports_there(wheel, tmp_path):
    missing = [m for m in RUNTIME if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the fresh venv borrows {', '.join(missing)} from this environment, which lacks them")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    r = run([str(py), "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()['purelib']))"])
    assert r.returncode == 0, r.stderr
    site = Path(json.loads(r.stdout))
    borrowed = sorted({str(Path(importlib.util.find_spec(m).origin).parent.parent) for m in RUNTIME})
    (site / "_lossmon_test_deps.pth").write_text("\n".join(borrowed) + "\n")

    # pip of this environment installs into the fresh one (--python: pip >= 22.3); the extras
    # resolve against the borrowed packages, so nothing is fetched.
    extras = [e for e, dist in (("lightning", "lightning"), ("transformers", "transformers"))
              if importlib.util.find_spec(dist) is not None]
    target = f"lossmon[{','.join(extras)}] @ {wheel.as_uri()}" if extras else str(wheel)
    r = run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index", "--no-deps", str(wheel)])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index", target])
    assert r.returncode == 0, r.stdout + r.stderr

    wanted = [m for m in modules() if m not in FRAMEWORKS or importlib.util.find_spec(FRAMEWORKS[m]) is not None]
    script = ("import importlib, json, sys\n"
              "mods = json.loads(sys.argv[1])\n"
              "for m in mods: importlib.import_module(m)\n"
              "import lossmon\n"
              "print(lossmon.__file__)\n")
    r = run([str(py), "-c", script, json.dumps(wanted)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert Path(r.stdout.strip()).is_relative_to(site)  # the wheel's copy, not a checkout's

    exe = env_dir / ("Scripts/lossmon.exe" if os.name == "nt" else "bin/lossmon")
    from lossmon.version import __version__

    r = run([str(exe), "--version"], cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == f"lossmon {__version__}", r.stdout + r.stderr
