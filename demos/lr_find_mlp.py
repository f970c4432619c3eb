"""A small MLP training script with its own LR and schedule, for `lossmon lr-find demos/lr_find_mlp.py --lr 3e-4`
(the README's lr-find sample)."""
import argparse, torch
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float, default=1e-3); p.add_argument("--epochs", type=int, default=50)
args = p.parse_args()
torch.manual_seed(0)
X = torch.randn(2048, 20); Y = (X[:, :5].sum(1) > 0).long() + (X[:, 5] > 1).long()
model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))
opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * 32)
for epoch in range(args.epochs):
    for i in range(0, 2048, 64):
        loss = torch.nn.functional.cross_entropy(model(X[i:i+64]), Y[i:i+64])
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    print(f"epoch {epoch} loss {loss.item():.3f}")
