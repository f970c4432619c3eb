"""System metrics: the sampler's rows (with a fake NVML), the names' role, step time and data
wait, the GPU alerts, and a real session recording them once a second."""

from __future__ import annotations

import time

import json
import sys

import pytest

from conftest import wait_for
from lossmon import names
from lossmon.diagnosis import DiagnosisConfig, Diagnoser
from lossmon.system import gpu as gpu_mod
from lossmon.system.fake_nvml import FakeGpu, FakeNVML
from lossmon.system.process import ProcessSampler
from lossmon.system.sampler import SystemSampler
from lossmon.training.data_wait import DataWait, timed_iter
from lossmon.training.run import Run

GPU_NAMES = ("util_percent", "mem_used_mb", "mem_total_mb", "temp_c", "power_w")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def sampler(run: Run, gpus=None, **kw) -> tuple[SystemSampler, Clock]:
    clock = Clock()
    s = SystemSampler(run, nvml=FakeNVML(gpus if gpus is not None else [FakeGpu()], **kw), clock=clock)
    assert s.open()
    s._ref = (clock(), run.step)
    return s, clock


def rows(run: Run) -> list[dict]:
    return [r for r in run.drain() if "event" not in r]


def test_system_names_have_their_own_role_and_never_advance_the_step():
    for n in ("sys/cpu_percent", "gpu0/util_percent", "gpu12/mem_used_mb", "torch/cuda_max_allocated_mb",
              "sys/step_time_ms"):
        assert names.role(n) == names.SYSTEM
        assert not names.advances_step(n)
    assert names.role("gpu_loss") == names.OTHER and names.role("loss") == names.TRAIN_LOSS


def test_a_sample_has_every_name_the_issue_lists_at_the_current_step():
    run = Run("s")
    run.log(loss=1.0)
    run.log(loss=0.9)
    s, clock = sampler(run, [FakeGpu(util=87.0, used_mb=30000.0, total_mb=81920.0, temp=61.0, power_w=250.0),
                             FakeGpu(util=5.0)])
    clock.t += 1.0
    got = s.sample_once()
    row = rows(run)[-1]
    assert row["step"] == 2 and run.step == 2  # recorded at the step, without counting one
    for i in (0, 1):
        for n in GPU_NAMES:
            assert f"gpu{i}/{n}" in got
    assert got["gpu0/util_percent"] == 87.0 and got["gpu0/mem_total_mb"] == 81920.0
    assert got["gpu0/power_w"] == 250.0 and got["gpu1/util_percent"] == 5.0
    for n in ("sys/cpu_percent", "sys/rss_mb", "sys/ram_used_percent"):
        assert n in got
    assert got["sys/rss_mb"] > 1 and 0 < got["sys/ram_used_percent"] <= 100
    assert all(type(v) is float for v in got.values())  # the pump copies nothing


def test_a_figure_the_board_does_not_report_is_left_out_and_no_gpu_means_no_gpu_series(monkeypatch):
    run = Run("s")
    s, _ = sampler(run, [FakeGpu(power_w=None)])
    got = s.sample_once()
    assert "gpu0/power_w" not in got and "gpu0/util_percent" in got
    s2, _ = sampler(Run("t"), [], fail_init=True)  # no driver: nothing GPU-related at all
    assert not [k for k in s2.sample_once() if k.startswith("gpu") or k.startswith("torch/")]


def test_cuda_visible_devices_picks_and_numbers_the_gpus_as_torch_does(monkeypatch):
    gpus = [FakeGpu(util=float(i), uuid=f"GPU-{i}aaa") for i in range(4)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-0")
    got = gpu_mod.open_gpus(FakeNVML(gpus)).sample()
    assert got["gpu0/util_percent"] == 2.0 and got["gpu1/util_percent"] == 0.0 and "gpu2/util_percent" not in got
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_mod.open_gpus(FakeNVML(gpus)).sample() == {}


def test_without_pynvml_and_without_cuda_there_is_nothing_gpu_related(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml fails
    g = gpu_mod.open_gpus()
    assert g.nvml is None and g.sample() == {}  # torch here has no CUDA initialised


def test_torch_fallback_reports_memory_and_the_allocator_peak_since_the_last_sample(monkeypatch):
    calls = []

    class Cuda:
        @staticmethod
        def is_initialized():
            return True

        @staticmethod
        def device_count():
            return 2

        @staticmethod
        def memory_reserved(d):
            return 1 if d == 0 else 0  # device 1 was never used: not touched

        @staticmethod
        def max_memory_allocated(d):
            return 512 * 2**20

        @staticmethod
        def reset_peak_memory_stats(d):
            calls.append(d)

        @staticmethod
        def mem_get_info(d):
            return 6 * 2**30, 8 * 2**30

    monkeypatch.setitem(sys.modules, "torch", type("T", (), {"cuda": Cuda}))
    got = gpu_mod.GpuSampler(None, []).sample()
    assert got == {"torch/cuda_max_allocated_mb": 512.0, "gpu0/mem_used_mb": 2048.0, "gpu0/mem_total_mb": 8192.0}
    assert calls == [0]


def test_process_cpu_percent_counts_this_process_busy():
    p = ProcessSampler()
    x = 0
    for i in range(300_000):
        x += i
    got = p.sample()
    assert got["sys/cpu_percent"] > 5


def test_step_time_from_the_step_counter_and_none_while_no_step_is_made():
    run = Run("s")
    s, clock = sampler(run, [])
    for _ in range(50):
        run.log(loss=1.0)
    clock.t += 1.0
    assert s.sample_once()["sys/step_time_ms"] == pytest.approx(20.0)
    clock.t += 1.0
    assert "sys/step_time_ms" not in s.sample_once()  # a step longer than the interval...
    run.log(loss=1.0)
    clock.t += 1.0
    assert s.sample_once()["sys/step_time_ms"] == pytest.approx(2000.0)  # ...counts whole


def test_data_wait_share_from_timed_iter():
    run = Run("s")
    s, clock = sampler(run, [])
    it = timed_iter([1, 2, 3], run.data_wait.add)
    assert list(it) == [1, 2, 3]
    assert run.data_wait.batches == 4  # three batches and the StopIteration
    s.sample_once()  # the first sample sets the reference
    run.data_wait.add(0.25)
    clock.t += 1.0
    assert s.sample_once()["sys/data_wait_percent"] == pytest.approx(25.0, abs=1)


def test_run_batches_times_the_wait_for_each_batch_once():
    """run.batches(loader) is where the data wait is seen without `lossmon run`; an iterator that is
    timed already (lossmon run's DataLoader capture) is not timed twice."""
    run = Run("s")

    def slow():
        for i in range(3):
            time.sleep(0.01)
            yield i

    assert list(run.batches(slow())) == [0, 1, 2]
    assert run.data_wait.batches == 4 and run.data_wait.total_s >= 0.03
    timed = timed_iter([7, 8], run.data_wait.add)
    assert list(run.batches(timed)) == [7, 8]
    assert run.data_wait.batches == 4 + 3


def test_timed_iter_survives_a_failing_callback_and_passes_attributes_through():
    class Loader:
        def __iter__(self):
            return Inner()

    class Inner:
        n = 7

        def __iter__(self):
            return self

        def __next__(self):
            raise StopIteration

    def boom(_):
        raise RuntimeError("x")

    it = timed_iter(Loader(), boom)
    assert list(it) == [] and it.n == 7
    w = DataWait()
    assert not w.seen


def test_dataloader_iteration_is_timed_under_capture():
    import torch
    from torch.utils.data import DataLoader

    from lossmon.capture.loaders import LoaderTiming

    waits = []
    timing = LoaderTiming(waits.append).install()
    try:
        batches = list(DataLoader(torch.arange(10), batch_size=4))
    finally:
        timing.uninstall()
    assert len(batches) == 3 and len(waits) == 4
    timing.install()
    try:
        it = iter(DataLoader(torch.arange(10), batch_size=4))
        assert len(it) == 3 and next(it).tolist() == [0, 1, 2, 3]  # the loader's iterator, timed
    finally:
        timing.uninstall()
    waits.clear()
    list(DataLoader(torch.arange(10), batch_size=4))
    assert waits == []  # uninstalled: not timed any more


def _diag(cfg: DiagnosisConfig | None = None) -> Diagnoser:
    return Diagnoser(cfg or DiagnosisConfig())


def test_gpu_memory_within_3_percent_of_its_total_is_a_warning_resolved_with_room_again():
    d = _diag()
    d.feed({"gpu0/mem_total_mb": ([1, 2], [1000.0, 1000.0]), "gpu0/mem_used_mb": ([1, 2], [900.0, 960.0])})
    assert not d.alerts
    d.feed({"gpu0/mem_total_mb": ([3], [1000.0]), "gpu0/mem_used_mb": ([3], [975.0])})
    (a,) = d.alerts
    assert (a["kind"], a["severity"], a["state"], a["step"], a["metric"]) == ("gpu_memory", "warning", "open", 3,
                                                                           "gpu0/mem_used_mb")
    assert "97.5%" in a["message"]
    d.feed({"gpu0/mem_total_mb": ([4, 5], [1000.0] * 2), "gpu0/mem_used_mb": ([4, 5], [980.0, 930.0])})
    assert [x["state"] for x in d.alerts] == ["open", "resolved"]


def _idle_feed(d: Diagnoser, util: float, n: int, start: int = 0, step_every: int = 1, wait: float | None = None):
    steps = [(start + i) * step_every for i in range(n)]
    pts = {"gpu0/util_percent": (steps, [util] * n)}
    if wait is not None:
        pts["sys/data_wait_percent"] = (steps, [wait] * n)
    d.feed(pts)


def test_gpu_idle_for_a_minute_while_training_runs_is_an_info_note_naming_the_input():
    d = _diag()
    _idle_feed(d, 12.0, 59)
    assert not d.alerts
    _idle_feed(d, 12.0, 1, start=59)
    (a,) = d.alerts
    assert (a["kind"], a["severity"], a["metric"]) == ("gpu_idle", "info", "gpu0/util_percent")
    assert "num_workers" in a["message"] and "pin_memory" in a["message"]


def test_gpu_idle_uses_the_data_wait_share_and_stays_quiet_when_no_step_is_made():
    d = _diag()
    _idle_feed(d, 10.0, 60, step_every=0)  # paused or evaluating: the step counter stands still
    assert not d.alerts
    d = _diag()
    _idle_feed(d, 10.0, 60, wait=55.0)
    assert "waited for data 55 %" in d.alerts[0]["message"] and d.alerts[0]["data_wait_percent"] == 55.0
    d = _diag()
    _idle_feed(d, 10.0, 60, wait=2.0)
    assert "another reason" in d.alerts[0]["message"]
    d = _diag()
    _idle_feed(d, 10.0, 40)
    _idle_feed(d, 90.0, 1, start=40)  # busy once: the minute starts again
    _idle_feed(d, 10.0, 40, start=41)
    assert not d.alerts


def test_gpu_rules_are_configured_like_every_detector_and_nan_is_skipped():
    from lossmon.diagnosis.config import from_dict

    d = _diag(from_dict({"gpu_memory": {"enabled": False}, "gpu_idle": {"samples": 5}}))
    d.feed({"gpu0/mem_total_mb": ([1], [1000.0]), "gpu0/mem_used_mb": ([1], [999.0])})
    _idle_feed(d, float("nan"), 100)
    assert not d.alerts and not d.failed


def test_system_samples_do_not_reach_the_loss_detectors_or_the_metrics_panel():
    from lossmon.recording.store import MetricStore
    from lossmon.views.text import spark_series

    store = MetricStore()
    store.append_points({"loss": ([1], [1.0]), "sys/cpu_percent": ([1], [50.0]), "gpu0/util_percent": ([1], [3.0])})
    assert [label for label, _ in spark_series(store, 7)] == ["train"]
    d = _diag()
    d.feed({"sys/rss_mb": ([1, 2, 3], [1.0, float("nan"), 1e9])})
    assert not d.alerts and d.roles.names == {}


def test_a_session_records_cpu_and_rss_about_once_a_second_and_none_with_system_off(tmp_path):
    from lossmon.session.session import Session

    session = Session("sys", tmp_path / "on")
    session.sampler.interval = 0.05  # the same thread, faster: the test need not wait seconds
    try:
        for _ in range(5):
            session.run.log(loss=1.0)
        wait_for(lambda: session.run.store.series("sys/rss_mb") is not None and len(session.run.store.series("sys/rss_mb")) >= 2)
    finally:
        session.close("finished", 0)
    lines = [json.loads(x) for x in (tmp_path / "on" / "run.jsonl").read_text().splitlines() if x.startswith("{")]
    sys_rows = [x for x in lines if "sys/cpu_percent" in x]
    assert len(sys_rows) >= 2 and all(x["step"] == 5 for x in sys_rows[1:])
    off = Session("nosys", tmp_path / "off", system=False)
    off.run.log(loss=1.0)
    off.close("finished", 0)
    assert off.sampler is None and "sys/" not in (tmp_path / "off" / "run.jsonl").read_text()


def test_a_failing_source_is_said_once_and_the_others_go_on(capsys):
    run = Run("s")
    s, _ = sampler(run, [])

    class Broken:
        def sample(self):
            raise OSError("gone")

    s._sources.insert(0, Broken())
    assert "sys/rss_mb" in s.sample_once()
    assert "sys/rss_mb" in s.sample_once()
    assert capsys.readouterr().err.count("stopped sampling Broken") == 1


@pytest.mark.slow
def test_demo_plain_records_cpu_and_rss_about_once_a_second(tmp_path, subprocess_env):
    import subprocess

    from conftest import PYTHON

    d = tmp_path / "demo"
    p = subprocess.run([PYTHON, "-m", "lossmon", "demo", "healthy", "--plain", "--steps", "1000", "--run-dir", str(d)],
                       env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in (d / "run.jsonl").read_text().splitlines() if x.startswith("{")]
    samples = [r for r in rows if "sys/cpu_percent" in r and "sys/rss_mb" in r]
    took = json.loads((d / "meta.json").read_text())["duration_s"]
    assert len(samples) >= 1 and abs(len(samples) - took) <= 2  # one a second
    times = [r["time"] for r in samples]
    assert all(0.5 < b - a < 1.5 for a, b in zip(times, times[1:]))


def test_system_false_and_no_system_turn_it_off(tmp_path):
    import lossmon
    from lossmon.cli import build_parser

    def train(run):
        for _ in range(3):
            run.log(loss=1.0)

    run = lossmon.run(train, ui="plain", run_dir=tmp_path / "r", system=False)
    assert not [n for n in run.store.names() if names.role(n) == names.SYSTEM]
    with pytest.raises(TypeError, match="system must be True or False"):
        lossmon.run(train, ui="plain", run_dir=tmp_path / "r2", system="no")
    assert build_parser().parse_args(["demo", "--no-system"]).no_system is True
