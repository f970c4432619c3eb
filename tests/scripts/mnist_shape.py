import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import StepLR


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 32)
        self.fc2 = nn.Linear(32, 5)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def batches(x, y, size):
    for i in range(0, len(x), size):
        yield x[i:i + size], y[i:i + size]


def train(args, model, data, optimizer, epoch):
    model.train()
    for batch_idx, (x, y) in enumerate(batches(*data, args.batch_size)):
        optimizer.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(x)}/{len(data[0])}]\tLoss: {loss.item():.6f}")
            if args.dry_run:
                break


def test(model, data):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for x, y in batches(*data, 100):
            output = model(x)
            test_loss += F.nll_loss(output, y, reduction="sum").item()
            correct += output.argmax(dim=1).eq(y).sum().item()
    test_loss /= len(data[0])
    print(f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(data[0])}\n")
    return test_loss


def main():
    parser = argparse.ArgumentParser(description="mnist-shaped example")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    w = torch.randn(20, 5)
    x = torch.randn(1500, 20)
    y = (x @ w).argmax(1)
    train_data, test_data = (x[:1200], y[:1200]), (x[1200:], y[1200:])
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, train_data, optimizer, epoch)
        test(model, test_data)
        scheduler.step()


if __name__ == "__main__":
    main()
