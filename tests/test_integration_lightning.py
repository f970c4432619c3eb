"""The Lightning callback with a tiny local model and random data: what it records, LR control under
Lightning's own scheduler, stop, checkpoint, NaN, gradient accumulation."""

from __future__ import annotations

import io
import json
import math

import pytest

pl = pytest.importorskip("lightning.pytorch", reason="the Lightning integration needs: pip install 'lossmon[lightning]'")

import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import lossmon  # noqa: E402
from lossmon.integrations.lightning import LossmonCallback, fit  # noqa: E402


class Tiny(pl.LightningModule):
    def __init__(self, nan_at: int | None = None) -> None:
        super().__init__()
        self.net = torch.nn.Linear(8, 1)
        self.nan_at = nan_at

    def training_step(self, batch, i):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        if self.nan_at is not None and self.global_step + 1 == self.nan_at:
            loss = loss * float("nan")
        return loss

    def validation_step(self, batch, i):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class AtStep(pl.Callback):
    """Calls `action(run)` once, after the given optimizer step."""

    def __init__(self, run, step, action):
        self.run, self.step, self.action, self.done = run, step, action, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not self.done and trainer.global_step == self.step:
            self.done = True
            self.action(self.run)


def data():
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)


def trainer(**kw):
    opts = dict(max_steps=60, val_check_interval=10, check_val_every_n_epoch=None, limit_val_batches=2, logger=False, enable_checkpointing=False,
                enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    opts.update(kw)
    return pl.Trainer(**opts)


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "run.jsonl").read_text().splitlines()]


def run_with(tmp_path, module, step=None, action=None, callbacks_extra=(), **trainer_kw):
    def train(run):
        callbacks = [LossmonCallback(run)] + ([AtStep(run, step, action)] if action else []) + list(callbacks_extra)
        t = trainer(callbacks=callbacks, **trainer_kw)
        t.fit(module, data(), data())
        return t

    run = lossmon.run(train, run_dir=tmp_path / "run", ui="plain")
    return run, records(tmp_path / "run")


def test_fit_records_train_loss_per_step_val_loss_per_validation_and_the_lr(tmp_path, capsys):
    run = fit(trainer(), Tiny(), data(), data(), run_dir=tmp_path / "run", ui="plain")
    recs = records(tmp_path / "run")
    losses = [(r["step"], r["loss"]) for r in recs if "loss" in r]
    assert [s for s, _ in losses] == list(range(1, 61)) and all(math.isfinite(v) for _, v in losses)
    vals = [r for r in recs if "val_loss" in r]
    assert [r["step"] for r in vals] == [10, 20, 30, 40, 50, 60] and all("epoch" in r for r in vals)
    lrs = {r["step"]: r["lr"] for r in recs if "lr" in r}
    assert lrs[1] == 0.05 and lrs[10] == 0.05 and lrs[11] == 0.025 and lrs[21] == 0.0125  # StepLR, per step
    assert run.total_steps == 60 and run.name == "Tiny"


def test_an_lr_change_lands_at_the_next_step_under_lightnings_scheduler(tmp_path):
    run, recs = run_with(tmp_path, Tiny(), 15, lambda r: r.scale_lr(4.0))
    lrs = {r["step"]: r["lr"] for r in recs if "lr" in r}
    assert lrs[15] == 0.025 and lrs[16] == 0.1  # the schedule's 0.025, times 4, from the next step
    assert lrs[25] == pytest.approx(0.05)  # the schedule halves at 20 and the multiplier stays
    change = next(r for r in recs if r.get("event") == "lr_change")
    assert change["applied"] and change["new"][0] == 0.1  # recorded at the last logged step, 15


def test_stop_stops_the_trainer(tmp_path):
    run, recs = run_with(tmp_path, Tiny(), 12, lambda r: r.stop())
    steps = [r["step"] for r in recs if "loss" in r]
    assert max(steps) == 13 and run.should_stop  # asked after step 12 (after lossmon's hook): done at 13


def test_checkpoint_saves_with_the_trainer(tmp_path):
    run, recs = run_with(tmp_path, Tiny(), 8, lambda r: r.checkpoint())
    ck = next(r for r in recs if r.get("event") == "checkpoint")
    assert ck["ok"] and ck["result"].endswith("step-9.ckpt") or ck["result"].endswith("step-8.ckpt")
    saved = torch.load(ck["result"], weights_only=False)
    assert saved["global_step"] in (8, 9) and "state_dict" in saved


def test_a_nan_loss_is_detected(tmp_path):
    run, recs = run_with(tmp_path, Tiny(nan_at=30))
    alert = next(r for r in recs if r.get("event") == "alert" and r["kind"] == "nonfinite")
    assert alert["step"] == 30


def test_gradient_accumulation_logs_once_per_optimizer_step(tmp_path):
    run, recs = run_with(tmp_path, Tiny(), max_steps=20, accumulate_grad_batches=4, val_check_interval=8)
    assert [r["step"] for r in recs if "loss" in r] == list(range(1, 21))


def test_pause_holds_training_at_a_batch_boundary_until_resume(tmp_path):
    import threading
    import time

    seen = {}

    def pause_then_resume(run):
        run.pause()
        seen["at"] = time.monotonic()
        threading.Timer(0.5, run.resume).start()

    run, recs = run_with(tmp_path, Tiny(), 12, pause_then_resume)
    pause = next(r for r in recs if r.get("event") == "pause")
    resume = next(r for r in recs if r.get("event") == "resume")
    assert pause["step"] == 13 and resume["time"] - pause["time"] >= 0.4  # held at step 13's boundary
    assert max(r["step"] for r in recs if "loss" in r) == 60  # and then it went on


class TinyLogged(Tiny):
    def training_step(self, batch, i):
        loss = super().training_step(batch, i)
        self.log("train_loss", loss)
        return loss


def lightning_csv(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_lightnings_lr_monitor_logs_the_effective_lr_after_a_change(tmp_path):
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger

    from lossmon.diagnosis.check import run_check

    monitor = LearningRateMonitor(logging_interval="step")
    run, recs = run_with(tmp_path, TinyLogged(), 15, lambda r: r.scale_lr(0.5), callbacks_extra=[monitor],
                         logger=CSVLogger(tmp_path, name="lightning_logs"), log_every_n_steps=1)
    rows = lightning_csv(tmp_path / "lightning_logs" / "version_0" / "metrics.csv")
    logged = {int(r["step"]): float(r["lr-SGD"]) for r in rows if r.get("lr-SGD")}
    lossmon_lr = {r["step"]: r["lr"] for r in recs if "lr" in r}
    # The monitor logs at on_train_batch_start, under the count of steps done so far: its row k is
    # the LR of optimizer step k + 1, which is lossmon's `lr` at step k + 1.
    assert sorted(logged) == list(range(0, 60))
    assert logged[14] == 0.025 and logged[15] == pytest.approx(0.0125)  # x0.5 asked after step 15
    assert logged[29] == pytest.approx(0.00625)  # the schedule halves at 20, the multiplier stays
    assert all(logged[k] == pytest.approx(lossmon_lr[k + 1], rel=1e-12) for k in logged)
    assert monitor.lrs["lr-SGD"][-1] == pytest.approx(lossmon_lr[60])
    assert "_extract_lr" not in vars(monitor)  # unwrapped after the fit

    out = io.StringIO()
    assert run_check(str(tmp_path / "lightning_logs"), out=out) == 0, out.getvalue()
