"""The core never loads a UI library or a framework it integrates with, checked at run time
(test_import_graph.py checks the same rules statically)."""

import subprocess

import pytest

from conftest import PYTHON

UI_LIBS = {"textual", "rich"}


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
import sys, lossmon, lossmon.cli, lossmon.watched, lossmon.sources, lossmon.control_socket
heavy = {"lightning", "pytorch_lightning", "transformers", "accelerate", "tensorboard"}
leaked = sorted(m for m in sys.modules if m.split('.')[0] in heavy)
assert not leaked, leaked
"""
    p = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=subprocess_env, timeout=60)
    assert p.returncode == 0, p.stderr
