"""The Hugging Face Trainer callback with a tiny GPT-2 built locally (no downloads) and random
tokens: what it records, LR control under the Trainer's scheduler, stop, checkpoint, and a NaN the
Trainer's logging_nan_inf_filter hides from its own logs."""

from __future__ import annotations

import json
import math
import os

import pytest

transformers = pytest.importorskip("transformers", reason="the Trainer integration needs: pip install 'lossmon[transformers]'")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate: pip install 'lossmon[transformers]'")

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments  # noqa: E402

import lossmon  # noqa: E402
from lossmon.integrations.transformers import LossmonCallback, train  # noqa: E402

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(0, 64, (n, 16), generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.x[i]}


class NaNAt(GPT2LMHeadModel):
    """A GPT-2 whose loss is NaN at one training forward pass."""

    nan_at = None
    calls = 0

    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        if self.training:
            type(self).calls += 1
            if type(self).calls == self.nan_at:
                out["loss"] = out["loss"] * float("nan")
        return out


def make_trainer(tmp_path, model_cls=GPT2LMHeadModel, callbacks=(), **kw):
    torch.manual_seed(0)
    model = model_cls(GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2))
    opts = dict(output_dir=str(tmp_path / "out"), max_steps=40, logging_steps=5, eval_strategy="steps",
                eval_steps=10, per_device_train_batch_size=8, per_device_eval_batch_size=8, learning_rate=1e-3,
                lr_scheduler_type="linear", report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True,
                dataloader_num_workers=0)
    opts.update(kw)
    return Trainer(model=model, args=TrainingArguments(**opts), train_dataset=Tokens(256, 0),
                   eval_dataset=Tokens(32, 1), callbacks=list(callbacks))


class Recorder(TrainerCallback):
    """A reporting callback after lossmon's: what it gets in `logs` (as TensorBoard's or W&B's would)."""

    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kw):
        self.logs.append((state.global_step, dict(logs or {})))


class AtStep(TrainerCallback):
    def __init__(self, step, action):
        self.step, self.action, self.run = step, action, None

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            self.action(self.run)


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "run.jsonl").read_text().splitlines()]


def linear_lr(step: int, total: int = 40, base: float = 1e-3) -> float:
    """The LR the Trainer's linear schedule gives the update at `step` (1-based)."""
    return base * (total - (step - 1)) / total


def run_with(tmp_path, step=None, action=None, **kw):
    hook = AtStep(step, action) if action else None
    tr = make_trainer(tmp_path, callbacks=([hook] if hook else []) + [Recorder()], **kw)

    def fn(run):
        if hook:
            hook.run = run
        tr.callback_handler.callbacks.insert(1, LossmonCallback(run))
        return tr.train()

    run = lossmon.run(fn, run_dir=tmp_path / "run", ui="plain")
    return run, tr, records(tmp_path / "run")


@pytest.mark.slow
def test_train_records_loss_eval_loss_grad_norm_and_the_effective_lr(tmp_path):
    tr = make_trainer(tmp_path)
    run = train(tr, run_dir=tmp_path / "run", ui="plain")
    recs = records(tmp_path / "run")
    assert [r["step"] for r in recs if "loss" in r] == list(range(1, 41))  # every step, not every 5
    assert [r["step"] for r in recs if "eval_loss" in r] == [10, 20, 30, 40]
    assert [r["step"] for r in recs if "grad_norm" in r] == [5, 10, 15, 20, 25, 30, 35, 40]
    lrs = {r["step"]: r["lr"] for r in recs if "lr" in r}
    for s in (1, 2, 20, 40):
        assert lrs[s] == pytest.approx(linear_lr(s))
    assert run.total_steps == 40 and run.result.global_step == 40
    logged = [h for h in tr.state.log_history if "loss" in h]
    assert logged and all(math.isfinite(h["loss"]) for h in logged)


@pytest.mark.slow
def test_an_lr_change_lands_at_the_next_step_under_the_trainers_scheduler(tmp_path):
    run, tr, recs = run_with(tmp_path, 20, lambda r: r.scale_lr(2.0))
    lrs = {r["step"]: r["lr"] for r in recs if "lr" in r}
    assert lrs[20] == pytest.approx(linear_lr(20)) and lrs[21] == pytest.approx(2 * linear_lr(21))
    assert lrs[35] == pytest.approx(2 * linear_lr(35))  # the schedule goes on, times 2
    # every logger after lossmon's callback gets the effective LR in `logs`: what the update used
    rec = next(cb for cb in tr.callback_handler.callbacks if isinstance(cb, Recorder))
    seen = {s: logs["learning_rate"] for s, logs in rec.logs if "learning_rate" in logs}
    assert seen[15] == pytest.approx(linear_lr(15)) and seen[25] == pytest.approx(2 * linear_lr(25))


@pytest.mark.slow
def test_stop_stops_the_trainer(tmp_path):
    run, tr, recs = run_with(tmp_path, 12, lambda r: r.stop())
    assert tr.state.global_step == 13 and max(r["step"] for r in recs if "loss" in r) == 13


def test_checkpoint_makes_the_trainer_save(tmp_path):
    run, tr, recs = run_with(tmp_path, 7, lambda r: r.checkpoint())
    ck = next(r for r in recs if r.get("event") == "checkpoint")
    saved = [p for p in (tmp_path / "out").iterdir() if p.name.startswith("checkpoint-")]
    assert [p.name for p in saved] == ["checkpoint-8"] and ck["ok"] and ck["result"] == str(saved[0])
    assert (saved[0] / "trainer_state.json").exists()


def test_a_nan_hidden_by_the_trainers_log_filter_is_still_detected(tmp_path):
    NaNAt.nan_at, NaNAt.calls = 12, 0
    tr = make_trainer(tmp_path, model_cls=NaNAt, logging_nan_inf_filter=True, remove_unused_columns=False)
    train(tr, run_dir=tmp_path / "run", ui="plain")
    recs = records(tmp_path / "run")
    assert all(math.isfinite(h["loss"]) for h in tr.state.log_history if "loss" in h)  # the Trainer hid it
    alert = next(r for r in recs if r.get("event") == "alert" and r["kind"] == "nonfinite")
    assert alert["step"] == 12
