import argparse
import sys

import torch
import torch.nn as nn
from torch.nn import functional as F


class Bigram(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 16)
        self.head = nn.Linear(16, vocab)

    def forward(self, idx, targets=None):
        logits = self.head(self.emb(idx))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def make_words(n, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, 12, (int(torch.randint(3, 9, (1,), generator=g)),), generator=g) for _ in range(n)]


def to_batch(words, max_len=10):
    x = torch.zeros(len(words), max_len, dtype=torch.long)
    y = torch.full((len(words), max_len), -1, dtype=torch.long)
    for i, w in enumerate(words):
        x[i, 1:len(w) + 1] = w[:max_len - 1]
        y[i, :len(w)] = w[:max_len]
    return x, y


@torch.inference_mode()
def evaluate(model, words, batch_size=50, max_batches=None):
    model.eval()
    losses = []
    for i in range(0, len(words), batch_size):
        x, y = to_batch(words[i:i + batch_size])
        _, loss = model(x, y)
        losses.append(loss.item())
        if max_batches is not None and len(losses) >= max_batches:
            break
    model.train()
    return torch.tensor(losses).mean().item()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="makemore-shaped")
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--learning-rate", "-l", type=float, default=5e-2)
    parser.add_argument("--seed", type=int, default=3407)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    train_words, test_words = make_words(400, 1), make_words(100, 2)
    model = Bigram(12)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.01)
    step = 0
    while True:
        idx = torch.randint(0, len(train_words), (32,))
        x, y = to_batch([train_words[i] for i in idx])
        logits, loss = model(x, y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 20 == 0:
            print(f"step {step} | loss {loss.item():.4f}")
        if step > 0 and step % 100 == 0:
            train_loss = evaluate(model, train_words, max_batches=4)
            test_loss = evaluate(model, test_words, max_batches=4)
            print(f"step {step} train loss: {train_loss} test loss: {test_loss}")
        step += 1
        if args.max_steps >= 0 and step >= args.max_steps:
            break
    sys.exit(0)
