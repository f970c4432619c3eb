"""The core never imports a UI library (DESIGN.md §2), checked statically and at run time."""

import ast
import subprocess

import pytest

from conftest import PYTHON, ROOT

UI_LIBS = {"textual", "rich"}
UI_PACKAGES = {"views"}  # lossmon subpackages that are views and may import them


def core_modules():
    pkg = ROOT / "lossmon"
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg)
        if rel.parts[0] in UI_PACKAGES:
            continue
        yield path


def test_no_core_module_imports_textual_or_rich():
    offenders = []
    for path in core_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""] if node.level == 0 else []
            else:
                continue
            offenders += [f"{path.name}: {m}" for m in mods if m.split(".")[0] in UI_LIBS]
    assert not offenders, offenders
    assert len(list(core_modules())) >= 8


@pytest.mark.slow
def test_a_plain_run_loads_no_ui_library(tmp_path, subprocess_env):
    code = f"""
import sys, lossmon
def train(run):
    for i in range(5):
        run.log(loss=1.0)
lossmon.run(train, run_dir={str(tmp_path / 'r')!r}, ui='plain')
leaked = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(UI_LIBS)!r})
assert not leaked, leaked
"""
    p = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=subprocess_env, timeout=60)
    assert p.returncode == 0, p.stderr


@pytest.mark.slow
def test_lossmon_never_imports_a_framework_it_integrates_with(subprocess_env):
    """Lightning, transformers and tensorboard are optional extras: `import lossmon`, a run, a
    watch of a lossmon run and the CLI must work without loading them."""
    code = """
import sys, lossmon, lossmon.cli, lossmon.watch, lossmon.sources, lossmon.control_socket
heavy = {"lightning", "pytorch_lightning", "transformers", "accelerate", "tensorboard"}
leaked = sorted(m for m in sys.modules if m.split('.')[0] in heavy)
assert not leaked, leaked
"""
    p = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=subprocess_env, timeout=60)
    assert p.returncode == 0, p.stderr
