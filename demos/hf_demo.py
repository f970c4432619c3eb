"""A Hugging Face Trainer under lossmon: one call instead of trainer.train() (needs
`lossmon[transformers]`; nothing is downloaded: the model is a 2-layer GPT-2 built from a config).

    python demos/hf_demo.py [--steps 600]

The task is learnable (count upwards modulo the vocabulary), so the loss falls; the Trainer's own
linear schedule runs, and ] / [ change the LR on top of it, p pauses, c makes the Trainer save a
checkpoint-N in its output directory, s stops.
"""

import argparse
import os
import tempfile

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

import lossmon.integrations.transformers as lm

VOCAB, LENGTH = 64, 24


class Counting(torch.utils.data.Dataset):
    """Sequences start at a random token and count up by a random stride, modulo the vocabulary."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        start = torch.randint(0, VOCAB, (n, 1), generator=g)
        stride = torch.randint(1, 4, (n, 1), generator=g)
        self.x = (start + stride * torch.arange(LENGTH)) % VOCAB

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.x[i]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=64, n_layer=2, n_head=2))
    out = tempfile.mkdtemp(prefix="lossmon-hf-demo-")
    targs = TrainingArguments(output_dir=out, max_steps=args.steps, learning_rate=3e-3, lr_scheduler_type="linear",
                              warmup_steps=30, per_device_train_batch_size=32, per_device_eval_batch_size=64,
                              logging_steps=10, eval_strategy="steps", eval_steps=50, save_strategy="no",
                              report_to=[], use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=targs, train_dataset=Counting(8192, 0), eval_dataset=Counting(256, 1))
    lm.train(trainer)


if __name__ == "__main__":
    main()
