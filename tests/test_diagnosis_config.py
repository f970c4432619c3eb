"""The typed detector configuration: defaults, TOML, dicts, and clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from lossmon.diagnosis.config import ConfigError, DiagnosisConfig, coerce, from_dict, load_config


def test_every_section_has_enabled_and_every_detector_an_action():
    cfg = DiagnosisConfig()
    for f in dataclasses.fields(cfg):
        section = getattr(cfg, f.name)
        assert hasattr(section, "enabled")
        if f.name not in ("early_stopping", "notify", "snapshot"):  # notify: what alerts do; snapshots (issue 22): not detectors
            assert section.action == "alert"
    assert cfg.early_stopping.enabled is False  # stopping is only ever opt-in
    assert cfg.snapshot.enabled is False


def test_toml_sets_values_and_keeps_the_other_defaults(tmp_path):
    p = tmp_path / "lossmon.toml"
    p.write_text('[spike]\nsigmas = 5\nwindow = 256\n[overfitting]\naction = "pause"\n'
                 '[early_stopping]\nenabled = true\npatience = 5\nmode = "max"\nmonitor = "val_acc"\n'
                 '[plateau]\nenabled = false\n')
    cfg = load_config(p)
    assert cfg.spike.sigmas == 5.0 and isinstance(cfg.spike.sigmas, float) and cfg.spike.window == 256
    assert cfg.spike.rel == 0.10
    assert cfg.overfitting.action == "pause" and cfg.action("overfitting") == "pause"
    assert (cfg.early_stopping.enabled, cfg.early_stopping.patience, cfg.early_stopping.mode) == (True, 5, "max")
    assert cfg.plateau.enabled is False


@pytest.mark.parametrize("text,needle", [
    ("[spikes]\nsigmas = 5\n", "unknown section [spikes]"),
    ("[spike]\nsigma = 5\n", "unknown setting spike.sigma"),
    ("[spike]\nsigmas = \"six\"\n", "spike.sigmas must be a number"),
    ("[spike]\nwindow = 1.5\n", "spike.window must be a whole number"),
    ("[spike]\nsigmas = -1\n", "spike.sigmas must be above 0"),
    ("[spike]\nrel = 2\n", "spike.rel must be at least 0 and below 1"),
    ("[spike]\nenabled = 1\n", "spike.enabled must be true or false"),
    ("[overfitting]\naction = \"kill\"\n", "overfitting.action must be one of alert, pause, stop"),
    ("[early_stopping]\nmode = \"up\"\n", "early_stopping.mode must be min or max"),
    ("spike = 3\n", "[spike] must be a table"),
    ("[spike\n", "not valid TOML"),
])
def test_bad_files_name_the_problem(tmp_path, text, needle):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config("/nonexistent/lossmon.toml")


def test_python_objects_and_dicts():
    assert coerce(None) == DiagnosisConfig()
    assert coerce({"divergence": {"factor": 3}}).divergence.factor == 3.0
    with pytest.raises(ConfigError, match="must be a DiagnosisConfig"):
        coerce(42)
    cfg = DiagnosisConfig()
    cfg.spike.sigmas = "x"
    with pytest.raises(ConfigError, match="spike.sigmas"):
        coerce(cfg)
    assert from_dict({}).spike.window == 128


def test_run_rejects_a_bad_config_before_training():
    import lossmon

    called = []
    with pytest.raises(ValueError, match="unknown section"):
        lossmon.run(lambda run: called.append(1), ui="plain", config={"nope": {}})
    assert not called
