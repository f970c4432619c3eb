"""The LR multiplier stays exact under every torch scheduler (DESIGN.md §5, issue 5).

Each case trains the same tiny model twice: unchanged, and with x0.5 requested before step 20. A
probe pre-hook registered after lossmon's reads the LR each update really uses. Steps before 20 must
be identical, and from 20 on exactly half (x0.5 is exact in binary floating point).
"""


import pytest
import torch
from torch.optim import lr_scheduler as S

from lossmon.training.run import Run

STEPS = 60
CHANGE_AT = 20


def hf_linear_warmup(opt):
    warmup, total = 10, STEPS

    def factor(step):
        if step < warmup:
            return step / warmup
        return max(0.0, (total - step) / (total - warmup))
    return S.LambdaLR(opt, factor)


SCHEDULERS = {
    "StepLR": lambda o: S.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda o: S.MultiStepLR(o, milestones=[10, 25, 40], gamma=0.3),
    "ExponentialLR": lambda o: S.ExponentialLR(o, gamma=0.95),
    "LinearLR": lambda o: S.LinearLR(o, start_factor=0.2, total_iters=30),
    "ConstantLR": lambda o: S.ConstantLR(o, factor=0.5, total_iters=25),
    "PolynomialLR": lambda o: S.PolynomialLR(o, total_iters=STEPS, power=2.0),
    "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-3),
    "LambdaLR": lambda o: S.LambdaLR(o, lambda s: 0.97 ** s),
    "LambdaLR-hf-warmup": hf_linear_warmup,
    "MultiplicativeLR": lambda o: S.MultiplicativeLR(o, lambda s: 0.98),
    "OneCycleLR": lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=STEPS + 5),
    "CyclicLR": lambda o: S.CyclicLR(o, base_lr=0.001, max_lr=0.05, step_size_up=8,
                                     cycle_momentum=isinstance(o, torch.optim.SGD)),
    "CosineAnnealingWarmRestarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=9, T_mult=2, eta_min=1e-4),
    "SequentialLR": lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=10),
                                                 S.ExponentialLR(o, gamma=0.9)], milestones=[10]),
    "ChainedScheduler": lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=15),
                                                      S.ExponentialLR(o, gamma=0.96)]),
    "ReduceLROnPlateau": lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2),
}

OPTIMIZERS = {
    "SGD-momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "Adam": lambda params, lr: torch.optim.Adam(params, lr=lr, foreach=False),
}


def plateau_metric(step):
    return 1.0 if step % 10 < 7 else 2.0  # a fixed sequence: both runs see the same "loss"


def train(opt_name, sched_name, tensor_lr, change):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    lr = torch.tensor(0.01) if tensor_lr else 0.01
    opt = OPTIMIZERS[opt_name](model.parameters(), lr)
    sched = SCHEDULERS[sched_name](opt)
    run = Run()
    run.watch(opt)
    used = []
    opt.register_step_pre_hook(lambda o, a, k: used.append(float(o.param_groups[0]["lr"])))
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for step in range(STEPS):
        if change and step == CHANGE_AT:
            run.scale_lr(0.5)
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if isinstance(sched, S.ReduceLROnPlateau):
            sched.step(plateau_metric(step))
        else:
            sched.step()
        run.log(loss=loss)
    return used, run


@pytest.mark.parametrize("tensor_lr", [False, True], ids=["float-lr", "tensor-lr"])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("sched_name", list(SCHEDULERS))
def test_half_lr_from_step_20_is_exact(sched_name, opt_name, tensor_lr):
    ref, _ = train(opt_name, sched_name, tensor_lr, change=False)
    got, run = train(opt_name, sched_name, tensor_lr, change=True)
    assert len(got) == len(ref) == STEPS
    assert got[:CHANGE_AT] == ref[:CHANGE_AT]
    assert got[CHANGE_AT:] == [0.5 * u for u in ref[CHANGE_AT:]]
    assert len(set(ref)) > 1 or sched_name == "ConstantLR"  # the schedule really moves
    assert run.lr_scale == 0.5


def train_commit(sched_name, commit_at, tensor_lr=False):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = OPTIMIZERS["SGD-momentum"](model.parameters(), torch.tensor(0.01) if tensor_lr else 0.01)
    sched = SCHEDULERS[sched_name](opt)
    run = Run()
    run.watch(opt, scheduler=sched)
    used = []
    opt.register_step_pre_hook(lambda o, a, k: used.append(float(o.param_groups[0]["lr"])))
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for step in range(STEPS):
        if step == CHANGE_AT:
            run.scale_lr(0.5)
        if step == commit_at:
            run.commit_lr()
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step(plateau_metric(step)) if isinstance(sched, S.ReduceLROnPlateau) else sched.step()
        run.log(loss=loss)
    return used, run


@pytest.mark.parametrize("tensor_lr", [False, True], ids=["float-lr", "tensor-lr"])
@pytest.mark.parametrize("sched_name", list(SCHEDULERS))
def test_commit_bakes_the_multiplier_into_the_schedule(sched_name, tensor_lr):
    ref, _ = train_commit(sched_name, commit_at=None, tensor_lr=tensor_lr)
    got, run = train_commit(sched_name, commit_at=30, tensor_lr=tensor_lr)
    assert run.lr_scale == 1.0
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-15)
    (ev,) = [e for e in run.drain() if e.get("event") == "lr_commit"]
    assert ev["applied"] and ev["baked"] == 0.5 and ev["step"] == 30
    if sched_name.startswith("LambdaLR"):
        assert any("LambdaLR" in n for n in ev["notes"])
    else:
        assert ev["notes"] == []
