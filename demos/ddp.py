"""Data-parallel training on CPU, two processes, under the monitor:

    torchrun --nproc-per-node 2 demos/ddp.py

Rank 0 shows the view and writes the run log; an LR change, pause, stop or checkpoint asked for on
rank 0 takes effect on both ranks at the same optimizer step. Every rank calls lossmon.run.
"""

import torch
import torch.distributed as dist
from torch import nn

import lossmon
from lossmon.demos import IN_DIM, make_data

STEPS = 3000


def main() -> None:
    dist.init_process_group("gloo")  # "nccl" on GPUs; lossmon's own exchange always uses gloo
    rank = dist.get_rank()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the same initial weights on every rank
    model = nn.parallel.DistributedDataParallel(
        nn.Sequential(nn.Linear(IN_DIM, 128), nn.ReLU(), nn.Linear(128, 1)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS, eta_min=3e-4)
    x, y = make_data(8192, noise=0.2, seed=rank)  # each rank trains on its own shard
    x_val, y_val = make_data(1024, noise=0.2, seed=1000)

    def train(run: lossmon.Run) -> None:
        run.watch(opt, scheduler=sched)  # on every rank: the LR exchange runs in its step hooks
        for step in range(STEPS):
            idx = torch.randint(0, len(x), (64,))
            loss = nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            run.log(loss=loss)  # free on ranks other than 0
            if rank == 0 and step % 100 == 99:
                with torch.no_grad():
                    run.log(val_loss=nn.functional.mse_loss(model.module(x_val), y_val))
            if run.should_stop:  # agreed by all ranks at the same step
                return

    lossmon.run(train, name="ddp")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
