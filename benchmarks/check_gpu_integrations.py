"""The Lightning and Hugging Face callbacks on a CUDA device: losses logged as device tensors reach
the run log every step, the LR follows the framework's schedule, a NaN is alerted at its step.

    python benchmarks/check_gpu_integrations.py

Prints one line per check; skipped (exit 0) without CUDA or without the frameworks.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def records(d: Path) -> list[dict]:
    return [json.loads(line) for line in (d / "run.jsonl").read_text().splitlines()]


def lightning_check(tmp: Path) -> None:
    import torch

    try:
        import lightning.pytorch as pl
    except ImportError:
        import pytorch_lightning as pl
    import lossmon
    from lossmon.integrations.lightning import LossmonCallback

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(64, 1)

        def training_step(self, batch, i):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            return loss * float("nan") if self.global_step + 1 == 70 else loss

        def validation_step(self, batch, i):
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.05)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.StepLR(opt, 10, 0.5),
                                                        "interval": "step"}}

    x = torch.randn(2048, 64)
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x[:, :1]), batch_size=32)

    def train(run):
        t = pl.Trainer(max_steps=100, val_check_interval=25, check_val_every_n_epoch=None, limit_val_batches=2,
                       accelerator="gpu", devices=1, logger=False, enable_checkpointing=False,
                       enable_progress_bar=False, enable_model_summary=False, callbacks=[LossmonCallback(run)])
        t.fit(Tiny(), dl, dl)

    lossmon.run(train, run_dir=tmp / "pl", ui="plain")
    recs = records(tmp / "pl")
    steps = [r["step"] for r in recs if "loss" in r]
    lrs = {r["step"]: r["lr"] for r in recs if "lr" in r}
    # the NaN poisons the weights, so later steps are NaN too: the alert opens at 70, escalates after
    nan = [r["step"] for r in recs if r.get("event") == "alert" and r["kind"] == "nonfinite"]
    ok = steps == list(range(1, 101)) and lrs[11] == 0.025 and nan[:1] == [70]
    print(f"lightning on cuda: {len(steps)} losses, lr at 11 = {lrs.get(11)}, nonfinite alert at {nan}"
          f" -> {'OK' if ok else 'FAIL'}")


def hf_check(tmp: Path) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    from lossmon.integrations.transformers import train

    class Tokens(torch.utils.data.Dataset):
        def __init__(self, n):
            self.x = torch.randint(0, 64, (n, 16), generator=torch.Generator().manual_seed(n))

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return {"input_ids": self.x[i], "labels": self.x[i]}

    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2))
    args = TrainingArguments(output_dir=str(tmp / "hfout"), max_steps=40, logging_steps=10, eval_strategy="steps",
                             eval_steps=20, per_device_train_batch_size=8, learning_rate=1e-3,
                             lr_scheduler_type="linear", report_to=[], save_strategy="no", disable_tqdm=True)
    tr = Trainer(model=model, args=args, train_dataset=Tokens(256), eval_dataset=Tokens(32))
    train(tr, run_dir=tmp / "hf", ui="plain")
    recs = records(tmp / "hf")
    steps = [r["step"] for r in recs if "loss" in r]
    lrs = {r["step"]: r["lr"] for r in recs if "lr" in r}
    device = next(model.parameters()).device
    ok = steps == list(range(1, 41)) and math.isclose(lrs[21], 1e-3 * 20 / 40) and device.type == "cuda"
    print(f"transformers on {device}: {len(steps)} losses, lr at 21 = {lrs.get(21)}, eval at"
          f" {[r['step'] for r in recs if 'eval_loss' in r]} -> {'OK' if ok else 'FAIL'}")


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        print("check_gpu_integrations: skipped (no CUDA device)")
        return
    tmp = Path(tempfile.mkdtemp())
    for check in (lightning_check, hf_check):
        try:
            check(tmp)
        except ImportError as e:
            print(f"{check.__name__}: skipped ({e})")


if __name__ == "__main__":
    main()
