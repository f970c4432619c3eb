"""The Hugging Face Trainer training a tiny GPT-2 (built from a GPT2Config, random init) on characters
of local text; its trainer_state.json log_history is the curve.

    python hf_tiny_gpt2.py --text /tmp/work/real/corpus/pysrc_1MB.txt --out /tmp/hf --lr 1e-3 --max-steps 400

Text: /tmp/work/real/corpus/pysrc_1MB.txt, the first 1,000,000 ASCII characters of the sorted,
concatenated /usr/lib/python3.11/*.py; one token per character (96 symbols), blocks of 64.
"""

import argparse
import os

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments


class Blocks(torch.utils.data.Dataset):
    def __init__(self, ids, block):
        self.ids, self.block = ids, block

    def __len__(self):
        return len(self.ids) // self.block

    def __getitem__(self, i):
        x = self.ids[i * self.block:(i + 1) * self.block]
        return {"input_ids": x, "labels": x.clone()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", default="/tmp/work/real/corpus/pysrc_1MB.txt")
    ap.add_argument("--out", default="hf_out")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--train-chars", type=int, default=900_000, help="use only the first N characters for training")
    ap.add_argument("--logging-steps", type=int, default=10)
    ap.add_argument("--eval-steps", type=int, default=50)
    ap.add_argument("--warmup-steps", type=int, default=0)
    ap.add_argument("--scheduler", default="linear")
    args = ap.parse_args()

    text = open(args.text, encoding="ascii").read()
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    train = Blocks(ids[:min(args.train_chars, 900_000)], args.block)
    val = Blocks(ids[900_000:900_000 + 200 * args.block], args.block)

    cfg = GPT2Config(vocab_size=len(vocab), n_positions=args.block, n_embd=args.n_embd, n_layer=args.n_layer,
                     n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(cfg)
    targs = TrainingArguments(output_dir=args.out, max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
                              per_device_eval_batch_size=100, learning_rate=args.lr, warmup_steps=args.warmup_steps,
                              lr_scheduler_type=args.scheduler, logging_steps=args.logging_steps, eval_strategy="steps",
                              eval_steps=args.eval_steps, save_strategy="no", report_to="none", use_cpu=True, seed=0,
                              dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=train, eval_dataset=val)
    trainer.train()
    trainer.state.save_to_json(os.path.join(args.out, "trainer_state.json"))


if __name__ == "__main__":
    main()
