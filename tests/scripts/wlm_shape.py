import argparse
import math

import torch
import torch.nn as nn

import lossmon

parser = argparse.ArgumentParser(description="word-language-model-shaped")
parser.add_argument("--lr", type=float, default=2.0)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--bptt", type=int, default=10)
parser.add_argument("--clip", type=float, default=0.25)
parser.add_argument("--seed", type=int, default=1111)
args = parser.parse_args()
torch.manual_seed(args.seed)
ntokens = 30
corpus = torch.randint(0, ntokens, (3000,))
train_data, val_data = corpus[:2500], corpus[2500:]


class RNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(ntokens, 16)
        self.rnn = nn.GRU(16, 16)
        self.decoder = nn.Linear(16, ntokens)

    def forward(self, x, h=None):
        out, h = self.rnn(self.encoder(x), h)
        return self.decoder(out), h


model = RNNModel()
criterion = nn.CrossEntropyLoss()


def evaluate(data):
    model.eval()
    total_loss = 0.0
    with torch.no_grad():
        for i in range(0, len(data) - 1 - args.bptt, args.bptt):
            x, y = data[i:i + args.bptt].unsqueeze(1), data[i + 1:i + 1 + args.bptt]
            out, _ = model(x)
            total_loss += len(x) * criterion(out.view(-1, ntokens), y).item()
    return total_loss / (len(data) - 1)


def train():
    model.train()
    for batch, i in enumerate(range(0, len(train_data) - 1 - args.bptt, args.bptt)):
        x, y = train_data[i:i + args.bptt].unsqueeze(1), train_data[i + 1:i + 1 + args.bptt]
        model.zero_grad()
        out, _ = model(x)
        loss = criterion(out.view(-1, ntokens), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lossmon.lr(lr))  # the one line: lossmon's LR keys act here
        if batch % 50 == 0:
            print(f"| epoch {epoch:3d} | {batch:5d} batches | lr {lr:02.2f} | loss {loss.item():5.2f}")


lr = args.lr
best_val_loss = None
for epoch in range(1, args.epochs + 1):
    train()
    val_loss = evaluate(val_data)
    print("-" * 60)
    print(f"| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}")
    print("-" * 60)
    if not best_val_loss or val_loss < best_val_loss:
        best_val_loss = val_loss
    else:
        lr /= 4.0
