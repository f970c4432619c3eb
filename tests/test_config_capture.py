"""Config capture (#19 item 5): lossmon.config(), lossmon.run(config_values=...), and the argparse
Namespace of a script under `lossmon run`, in meta.json, JSON-safe and size-capped."""

from __future__ import annotations

import argparse
import json

import pytest

import lossmon
from lossmon import cli
from lossmon.rundir.configvalues import MAX_KEYS, MAX_TEXT, safe_config

ARGPARSE_SCRIPT = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--layers", type=int, nargs="+", default=[64, 64])
p.add_argument("--name", default="base")
sub = p.add_subparsers(dest="cmd")
t = sub.add_parser("train")
t.add_argument("--epochs", type=int, default=2)
args = p.parse_args()
import lossmon
for i in range(3):
    lossmon.log(loss=1.0 / (i + 1))
"""


def meta_of(run_dir):
    return json.loads((run_dir / "meta.json").read_text())


def test_values_are_made_json_safe_and_capped():
    out = safe_config({"lr": 3e-4, "nan": float("nan"), "obj": object, "long": "x" * 1000, 3: [1, 2.5, "a"],
                       "big": list(range(100)), "ok": True, "none": None})
    assert out["lr"] == 3e-4 and out["ok"] is True and out["none"] is None
    assert out["nan"] == "nan"
    assert out["obj"] == "<class 'object'>"
    assert len(out["long"]) == MAX_TEXT and out["long"].endswith("...")
    assert out["3"] == [1, 2.5, "a"]
    assert isinstance(out["big"], str) and len(out["big"]) <= MAX_TEXT
    json.dumps(out, allow_nan=False)  # strictly JSON
    assert len(safe_config({f"k{i}": i for i in range(MAX_KEYS + 50)})) == MAX_KEYS
    assert safe_config(argparse.Namespace(a=1)) == {"a": 1}
    with pytest.raises(TypeError, match="must be a dict"):
        safe_config(42)


def test_run_config_values_and_module_config_reach_meta_json(tmp_path):
    def train(run):
        lossmon.log(loss=1.0)
        lossmon.config({"batch": 32, "lr": 0.5})  # merged, the later value wins

    run = lossmon.run(train, run_dir=tmp_path / "r", ui="plain", config_values={"lr": 0.1, "opt": "adam"})
    assert meta_of(run.dir)["config"] == {"lr": 0.5, "opt": "adam", "batch": 32}
    assert meta_of(run.dir)["state"] == "finished"


def test_bad_config_values_fail_before_any_run_directory(tmp_path):
    with pytest.raises(TypeError, match="must be a dict"):
        lossmon.run(lambda run: None, run_dir=tmp_path / "r", ui="plain", config_values=5)
    assert not (tmp_path / "r").exists()


def test_argparse_namespace_is_captured_under_lossmon_run_and_argparse_restored(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(ARGPARSE_SCRIPT)
    before = argparse.ArgumentParser.parse_known_args
    code = cli.main(["run", "--plain", "--run-dir", str(tmp_path / "r"), str(script),
                     "--layers", "8", "16", "--lr", "0.01", "train", "--epochs", "5"])
    assert code == 0
    assert argparse.ArgumentParser.parse_known_args is before
    assert meta_of(tmp_path / "r")["config"] == {"lr": 0.01, "layers": [8, 16], "name": "base", "cmd": "train",
                                                  "epochs": 5}
