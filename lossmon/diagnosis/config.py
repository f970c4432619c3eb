"""Every detector threshold in one typed object, with the defaults and where they come from.

Set it from Python (`lossmon.run(train, config=DiagnosisConfig(...))`, or a plain dict of sections)
or from a TOML file (`--config FILE`) whose tables are the sections below:

    [spike]
    sigmas = 5.0
    [overfitting]
    action = "pause"
    [early_stopping]
    enabled = true
    patience = 5
    [notify]
    command = "curl -s -d @- https://chat.example/hook"
    on = "warning"

Unknown sections or keys and values of the wrong type are errors that name the key: a typo in a
threshold must not silently leave the default in place.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("alert", "pause", "stop", "rollback")  # rollback: [spike] only (needs [snapshot] every)


class ConfigError(ValueError):
    """A configuration value or file lossmon cannot use; the message is one line for the user."""


@dataclass
class NonFiniteConfig:
    """NaN/inf in train loss, val loss or grad norm: alert at once, no warm-up (Keras
    TerminateOnNaN, Lightning check_finite). `resolve_after`: finite points that close the alert."""

    enabled: bool = True
    action: str = "alert"
    resolve_after: int = 100


@dataclass
class SpikeConfig:
    """A point far above what the recent points predict (OLMo-core: 128-point window, 6 sigma; the
    relative test is Lightning SpikeDetection's). The prediction is a line fitted to the window in
    log-loss against log-step (a power law is straight there), so a falling curve does not hide
    spikes, and the window arms after `min_points` (from 3 points for a jump 3x beyond both bars) so short averaged logs (Hugging Face's mean every
    500 steps) are covered too: 6 points is enough, as the scale is widened for few points.
    Flagged points never enter the window. Curves that go <= 0 are judged on their values."""

    enabled: bool = True
    action: str = "alert"
    window: int = 128
    min_points: int = 6
    sigmas: float = 6.0
    rel: float = 0.10  # and at least 10 % above the prediction
    persistent: int = 5  # this many flagged points in a row: a persistent spike (LLM Foundry)
    quiet: int = 10  # accepted points with no flag that end a spike episode (re-arm)
    accept_after: int = 20  # flagged points in a row after which the new level is accepted
    max_rollbacks: int = 3  # action = "rollback": at most this many automatic rollbacks per run
    rollback_skip: int = 200  # ... each skipping this many batches (PaLM skipped 200-500)


@dataclass
class DivergenceConfig:
    """Smoothed loss (EMA beta per step) above `factor` x its running minimum, or back above its
    starting level after halving it (fastai/Lightning LR-finder stop rule: 4x the best); or at 2x
    its best for `sustain_steps` steps (and `persist` logged points). In the first `warmup_steps`, a point `early_factor` x
    the first value, or a loss that rose and then stayed at its start (the chance level)."""

    enabled: bool = True
    action: str = "alert"
    beta: float = 0.98
    factor: float = 4.0
    warmup_steps: int = 50
    early_factor: float = 3.0  # in the first warmup_steps: a point this many times the first value
    early_single: float = 10.0  # ... or one point this many times
    persist: int = 3  # doubled from the best for at least this many logged points
    sustain_steps: int = 20  # ... and this many steps (the smoothing has a ~50-step memory already)
    chance_level: float | None = None  # the loss of a uniform guess (ln(classes)); inferred when None
    chance_steps: int = 500  # at the chance level this long since the start: not learning


@dataclass
class OscillationConfig:
    """The LR is too high: `spikes` spike episodes within `window` points, or block means of the
    train loss that swing up and down (`min_swings` reversals among the last 16 blocks) by more
    than `rel` of the loss level and well beyond their own noise (AUTOTRAINER: 3 %); or a val loss
    whose evaluation-to-evaluation scatter is above `val_scatter` of its level."""

    enabled: bool = True
    action: str = "alert"
    spikes: int = 3
    window: int = 500
    rel: float = 0.03
    min_swings: int = 6
    val_scatter: float = 0.10  # val loss wobbling more than 10 % of its level between evaluations


@dataclass
class PlateauConfig:
    """Validation: torch ReduceLROnPlateau semantics (better means v < best*(1 - threshold); alert
    after more than `patience` bad evaluations, or 5 % of the evaluations when there are many;
    v is the same smoothed level the overfitting rule uses). Training: the smoothed loss improved less than
    `min_improvement` over the last max(`window`, `window_frac` of the run) points."""

    enabled: bool = True
    action: str = "alert"
    patience: int = 10
    threshold: float = 1e-4
    window: int = 500
    window_frac: float = 0.05
    min_improvement: float = 1e-3
    max_noise: float = 0.005  # windows grow until the levels compared are known to 0.5 %


@dataclass
class LRTooLowConfig:
    """"LR too small?": the train loss falls slowly and steadily without ever slowing down, or has
    barely moved from its start, with no spikes, while the LR is at least `annealed_below` of its
    peak (Leslie Smith's LR range test; AUTOTRAINER's slow-convergence rule). When the LR has been
    annealed below that, a flat curve is reported as converged instead."""

    enabled: bool = True
    action: str = "alert"
    annealed_below: float = 0.10
    min_windows: int = 3  # the last windows (of the plateau length) that must each fall clearly
    history_windows: int = 5  # windows of history before "never slowed down" can be judged
    history_span: float = 4.0  # ... covering a stretch whose end is 4x its start (in points)
    max_slowdown: float = 0.3  # "never slowed down": latest rate >= this x the best earlier rate
    barely_moved: float = 0.01  # total progress under 1 % since the start
    ratio_low: float = -4.5  # log10 |dw|/|w| below this: the updates are too small to matter
    ratio_high: float = -2.0  # ... above this: too large to settle (Karpathy's ~1e-3 rule of thumb)


@dataclass
class OverfittingConfig:
    """Prechelt, "Early stopping - but when?": onset (info) when val rose at `up_evals` successive
    evaluations while train fell (UP_s); confirmed (warning) when val is `gl_percent` % above its
    best (GL_alpha) while train still falls. Both margins are widened to `noise_sigmas` times the
    val curve's own evaluation-to-evaluation scatter, so noisy but healthy val curves stay quiet."""

    enabled: bool = True
    action: str = "alert"
    up_evals: int = 3
    gl_percent: float = 5.0
    noise_sigmas: float = 3.0
    train_fall: float = 0.01  # train must have fallen at least 1 % since the best val
    rise_t: float = 3.0  # onset by trend: a line through the evaluations since the best rises this surely
    rise_evals: int = 8  # ... through at most this many of the latest


@dataclass
class EarlyStoppingConfig:
    """Keras/Lightning EarlyStopping: stop after `patience` evaluations of `monitor` in a row that
    did not improve on the best by more than `min_delta`. Off unless enabled; its action is stop.
    `baseline` is Keras's; `check_finite` is Lightning's (stop when the monitor is NaN/inf)."""

    enabled: bool = False
    monitor: str = "val_loss"
    mode: str = "min"
    min_delta: float = 0.0
    patience: int = 3
    baseline: float | None = None
    check_finite: bool = True


@dataclass
class GpuMemoryConfig:
    """A GPU's memory within `headroom_percent` % of its total (system samples, diagnosis/system.py):
    a warning before the out-of-memory error."""

    enabled: bool = True
    action: str = "alert"
    headroom_percent: float = 3.0


@dataclass
class GpuIdleConfig:
    """A GPU under `util_below` % busy for `samples` system samples in a row (one a second) while
    the step counter moves: an info note that the loop is likely input-bound."""

    enabled: bool = True
    action: str = "alert"
    util_below: float = 30.0
    samples: int = 60


NOTIFY_ON = ("critical", "warning")


@dataclass
class NotifyConfig:
    """What an alert of severity `on` or above does besides showing (lossmon/notify.py): ring the
    terminal bell (`bell`), and run `command` (a shell command line, the alert as JSON on its stdin)
    with `timeout_s`. Empty command: none; `enabled = false`: neither bell nor command."""

    enabled: bool = True
    command: str = ""
    on: str = "critical"
    timeout_s: float = 10.0
    bell: bool = True


@dataclass
class SnapshotConfig:
    """Snapshots for rollback (training/snapshot.py): every `every` optimizer steps, the last
    `keep`, in memory or (`on_disk`) in the run directory. Not a detector: no action. Off unless
    enabled, here or by `lossmon run --snapshot-every N`; `run.snapshot_every()` in a script does
    the same."""

    enabled: bool = False
    every: int = 100
    keep: int = 3
    on_disk: bool = False


@dataclass
class DiagnosisConfig:
    """All detector settings; each section has `enabled` and (but early stopping) `action`."""

    nonfinite: NonFiniteConfig = field(default_factory=NonFiniteConfig)
    spike: SpikeConfig = field(default_factory=SpikeConfig)
    divergence: DivergenceConfig = field(default_factory=DivergenceConfig)
    oscillation: OscillationConfig = field(default_factory=OscillationConfig)
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    lr_too_low: LRTooLowConfig = field(default_factory=LRTooLowConfig)
    overfitting: OverfittingConfig = field(default_factory=OverfittingConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    gpu_memory: GpuMemoryConfig = field(default_factory=GpuMemoryConfig)
    gpu_idle: GpuIdleConfig = field(default_factory=GpuIdleConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    snapshot: SnapshotConfig = field(default_factory=SnapshotConfig)

    def __post_init__(self) -> None:
        validate(self)

    def action(self, kind: str) -> str:
        section = getattr(self, kind, None)
        return getattr(section, "action", "alert")


_POSITIVE = {"window", "min_points", "sigmas", "persistent", "quiet", "accept_after", "factor",
             "spikes", "min_swings", "patience", "up_evals", "gl_percent", "min_windows", "history_windows",
             "noise_sigmas", "resolve_after", "history_span", "rise_t", "rise_evals", "early_factor", "early_single", "sustain_steps", "persist", "chance_level", "chance_steps",
             "headroom_percent", "util_below", "samples", "timeout_s", "keep", "max_rollbacks", "every"}
_SIGNED = {"ratio_low", "ratio_high"}  # log10 ratios: negative by nature
_FRACTION = {"rel", "beta", "window_frac", "threshold", "min_improvement", "annealed_below",
             "max_slowdown", "barely_moved", "train_fall", "max_noise", "val_scatter"}


def _check_value(where: str, name: str, value: Any, expected: Any) -> Any:
    """The value with its type checked against the field's default type; ints pass as floats."""
    kind = type(expected)
    if name in ("baseline", "chance_level"):
        if value is None:
            return None
        kind = float
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}.{name} must be true or false, got {value!r}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{name} must be a number, got {value!r}")
        if kind is int and not float(value).is_integer():
            raise ConfigError(f"{where}.{name} must be a whole number, got {value!r}")
        value = kind(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}.{name} must be finite, got {value!r}")
        if name in _POSITIVE and value <= 0 and not (name == "patience" and where == "early_stopping"):
            raise ConfigError(f"{where}.{name} must be above 0, got {value!r}")
        if name in _FRACTION and not 0 <= value < 1:
            raise ConfigError(f"{where}.{name} must be at least 0 and below 1, got {value!r}")
        if value < 0 and name not in _SIGNED:
            raise ConfigError(f"{where}.{name} must not be negative, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{name} must be a string, got {value!r}")
    if name == "action" and value not in ACTIONS:
        raise ConfigError(f"{where}.action must be one of {', '.join(ACTIONS)}, got {value!r}")
    if name == "mode" and value not in ("min", "max"):
        raise ConfigError(f"{where}.mode must be min or max, got {value!r}")
    if name == "on" and value not in NOTIFY_ON:
        raise ConfigError(f"{where}.on must be one of {', '.join(NOTIFY_ON)}, got {value!r}")
    if name == "monitor" and not value.strip():
        raise ConfigError(f"{where}.monitor must name a metric")
    return value


def validate(config: DiagnosisConfig) -> None:
    """Check every field's type and range; raises ConfigError naming the first bad one."""
    for sec in dataclasses.fields(config):
        section = getattr(config, sec.name)
        defaults = type(section)()
        for f in dataclasses.fields(section):
            value = _check_value(sec.name, f.name, getattr(section, f.name), getattr(defaults, f.name))
            object.__setattr__(section, f.name, value)
    if config.lr_too_low.ratio_low >= config.lr_too_low.ratio_high:
        raise ConfigError("lr_too_low.ratio_low must be below lr_too_low.ratio_high")
    for name in ("headroom_percent", "util_below"):
        section = config.gpu_memory if name == "headroom_percent" else config.gpu_idle
        if getattr(section, name) >= 100:
            raise ConfigError(f"{'gpu_memory' if section is config.gpu_memory else 'gpu_idle'}.{name} is a percentage:"
                              f" below 100, got {getattr(section, name)!r}")
    for sec in dataclasses.fields(config):
        if getattr(getattr(config, sec.name), "action", None) == "rollback" and sec.name != "spike":
            raise ConfigError(f"{sec.name}.action cannot be rollback: only [spike] action may be")
    if config.spike.min_points < 3:
        raise ConfigError("spike.min_points must be at least 3 (a line needs 3 points to have scatter)")
    if config.spike.window < config.spike.min_points:
        raise ConfigError("spike.window must be at least spike.min_points")


def from_dict(data: dict, where: str = "config") -> DiagnosisConfig:
    """A DiagnosisConfig from {section: {key: value}}; unknown names are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table of sections, got {type(data).__name__}")
    sections = {f.name: f for f in dataclasses.fields(DiagnosisConfig)}
    built = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{where}: unknown section [{name}]; known: {', '.join(sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{name}] must be a table of settings, got {values!r}")
        cls = sections[name].default_factory  # type: ignore[misc]
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(f"{where}: unknown setting {name}.{key}; known: {', '.join(sorted(known))}")
        section = cls()
        for key, value in values.items():
            object.__setattr__(section, key, value)
        built[name] = section
    return DiagnosisConfig(**built)


def load_config(path: str | os.PathLike) -> DiagnosisConfig:
    """Read a TOML file of sections into a DiagnosisConfig (ConfigError on any problem)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config {path} is not valid TOML: {e}") from None
    return from_dict(data, where=str(path))


def coerce(config: "DiagnosisConfig | dict | str | os.PathLike | None") -> DiagnosisConfig:
    """What `lossmon.run(config=...)` accepts: an object, a dict of sections, or a TOML path."""
    if config is None:
        return DiagnosisConfig()
    if isinstance(config, DiagnosisConfig):
        validate(config)
        return config
    if isinstance(config, dict):
        return from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    raise ConfigError(f"config must be a DiagnosisConfig, a dict or a TOML path, got {type(config).__name__}")
