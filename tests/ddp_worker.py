"""Worker for test_ddp.py: a tiny DDP job on the gloo backend, with or without lossmon."""

import os
import threading
from pathlib import Path

import torch
import torch.distributed as dist

STEPS = 240
PROBE_STEPS = 25  # lossmon-probe: rank 0 asks for probe_lr(2, PROBE_STEPS) at step PROBE_AT
# After the x0.5 asked for at step 20 has surely landed (an exchange comes within 64 steps): both in
# one exchange would cancel out on the way (x0.5 then x2), and the test could not see the probe.
PROBE_AT = 120


def worker(rank, port, mode, out_dir, change_step, stop_at):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS, eta_min=0.005)
    gen = torch.Generator().manual_seed(100 + rank)  # each rank its own shard
    data = [(torch.randn(16, 8, generator=gen), torch.randn(16, 1, generator=gen)) for _ in range(STEPS)]
    used = []
    steps_done = [0]
    thread_names = []

    def one_step(x, y):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return loss

    if mode.startswith("lossmon"):
        import lossmon

        def train(run):
            run.watch(opt)
            opt.register_step_pre_hook(lambda o, a, k: used.append(float(o.param_groups[0]["lr"])))
            run.on_checkpoint(lambda: thread_names.append(len(used)))  # optimizer steps so far
            for step, (x, y) in enumerate(data):
                if rank == 0 and step == 20:
                    run.scale_lr(0.5)  # only rank 0 asks, as a key press would
                if rank == 0 and step == 30:
                    run.checkpoint()
                if rank == 0 and stop_at is not None and step == stop_at:
                    threading.Thread(target=run.stop).start()  # from another thread, like a key
                if rank == 0 and mode == "lossmon-probe" and step == PROBE_AT:
                    run.probe_lr(2.0, PROBE_STEPS)
                if rank == 0 and mode == "lossmon-pause" and step == 40:
                    run.pause()
                    threading.Timer(0.3, run.resume).start()
                loss = one_step(x, y)
                run.log(loss=loss)
                steps_done[0] += 1
                if run.should_stop:
                    return

        lossmon.run(train, name="ddp", run_dir=Path(out_dir) / f"run-{mode}-{stop_at}", ui="plain")
    else:
        # change_step: the step the LR is halved from, or (that step, the step a x2 probe starts)
        halve_at, probe_at = change_step if isinstance(change_step, (tuple, list)) else (change_step, None)
        active = [1.0]
        opt.register_step_pre_hook(lambda o, a, k: _scale(o, active[0]) if active[0] != 1.0 else None)
        opt.register_step_post_hook(lambda o, a, k: _restore(o) if active[0] != 1.0 else None)
        opt.register_step_pre_hook(lambda o, a, k: used.append(float(o.param_groups[0]["lr"])))
        for step, (x, y) in enumerate(data):
            active[0] = (0.5 if step >= halve_at else 1.0) * (
                2.0 if probe_at is not None and probe_at <= step < probe_at + PROBE_STEPS else 1.0)
            one_step(x, y)
            steps_done[0] += 1
    params = [p.detach().clone() for p in model.parameters()]
    torch.save({"params": params, "used": used, "steps": steps_done[0], "checkpoints": thread_names},
               Path(out_dir) / f"{mode}-{stop_at}-{rank}.pt")
    dist.destroy_process_group()


_saved = []


def _scale(opt, s):
    """The scripted reference: the LR times s inside the step, as lossmon does."""
    _saved[:] = [g["lr"] for g in opt.param_groups]
    for g in opt.param_groups:
        g["lr"] = g["lr"] * s


def _restore(opt):
    for g, u in zip(opt.param_groups, _saved):
        g["lr"] = u
