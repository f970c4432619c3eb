"""Worker for test_ddp.py's rollback test: rank 0 asks for a rollback; every rank restores at the
same optimizer step; then each rank replays the same thing without lossmon, from the snapshot it
kept, and checks that both agree bit for bit (issue 22)."""

import copy
import os
from pathlib import Path

import torch
import torch.distributed as dist

from lossmon.training.snapshot import set_rng_state

STEPS = 120
N_DATA = 37  # epochs of 37 batches: the skip and the rollback cross them
ASK_AT, TO_STEP, SKIP = 30, 25, 7


def parts(rank):
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(
        torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS, eta_min=0.005)
    gen = torch.Generator().manual_seed(100 + rank)  # each rank its own shard
    data = [(torch.randn(16, 8, generator=gen), torch.randn(16, 1, generator=gen)) for _ in range(N_DATA)]
    return model, opt, sched, data


def one_step(model, opt, sched, x, y):
    loss = torch.nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return loss


def worker(rank, port, out_dir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    import lossmon

    model, opt, sched, data = parts(rank)
    out = {}

    def train(run):
        run.watch(opt, sched)
        run.snapshot_every(5, keep=40)
        asked = False
        while run.optimizer_steps < STEPS:  # run.step counts on rank 0 only
            for x, y in run.batches(data):
                run.log(loss=one_step(model, opt, sched, x, y))
                if rank == 0 and run.step == ASK_AT and not asked:
                    asked = True
                    run.rollback(to_step=TO_STEP, skip_batches=SKIP)
                if run.optimizer_steps >= STEPS:
                    break
        rec = run._recovery
        last = rec.last
        snap = rec.snaps.by_clock(last["clock"])
        out.update(last=last, state=copy.deepcopy(rec.snaps.load(snap)), snap_batch=snap.batch, rollbacks=rec.rollbacks)

    lossmon.run(train, name="ddp-rollback", run_dir=Path(out_dir) / "run", ui="plain")
    params = [p.detach().clone() for p in model.parameters()]
    bufs = [opt.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    # the reference: a fresh replica restored from the same snapshot, data from the same position
    model2, opt2, sched2, _ = parts(rank)
    state = out["state"]
    model2.load_state_dict(state["modules"][0])
    opt2.load_state_dict(state["optimizers"][0])
    sched2.load_state_dict(state["schedulers"][0])
    set_rng_state(state["rng"])
    pos = out["last"]["batch"]
    for _ in range(STEPS - out["last"]["clock"]):
        one_step(model2, opt2, sched2, *data[pos % N_DATA])
        pos += 1
    same = all(torch.equal(a, b) for a, b in zip(params, model2.parameters())) and all(
        torch.equal(b, opt2.state[p]["momentum_buffer"]) for b, p in zip(bufs, model2.parameters()))
    torch.save({"params": params, "same": same, "last": out["last"], "snap_batch": out["snap_batch"],
                "rollbacks": out["rollbacks"]}, Path(out_dir) / f"rollback-{rank}.pt")
    dist.destroy_process_group()
