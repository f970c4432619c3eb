"""log() with every odd value a training script may hand it: each arrives in the run log as the
exact float it stands for (sign of zero and subnormals included), or log() raises one clear error
naming the metric and records nothing."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import torch

import lossmon
from runlogs import load_run

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.float8_e4m3fn, torch.float8_e5m2]
INT_DTYPES = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16, torch.uint32, torch.uint64]

CASES: dict[str, tuple[object, float]] = {
    "py_true": (True, 1.0), "py_false": (False, 0.0), "py_int": (7, 7.0), "py_big_int": (2**63 + 1, float(2**63 + 1)),
    "neg_zero": (-0.0, -0.0), "subnormal": (5e-324, 5e-324), "max_float": (1.7976931348623157e308, 1.7976931348623157e308),
    "fraction": (Fraction(1, 3), 1 / 3), "decimal": (Decimal("0.1"), 0.1), "nan": (math.nan, math.nan),
    "inf": (math.inf, math.inf), "ninf": (-math.inf, -math.inf),
    "np_bool": (np.bool_(True), 1.0), "np_f16": (np.float16(0.1), float(np.float16(0.1))),
    "np_f32": (np.float32(0.1), float(np.float32(0.1))), "np_f64": (np.float64(-0.0), -0.0),
    "np_longdouble": (np.longdouble(0.25), 0.25), "np_u64_max": (np.uint64(2**64 - 1), float(2**64 - 1)),
    "np_i8": (np.int8(-128), -128.0), "np_0d": (np.array(2.5), 2.5), "np_1elem": (np.array([[3.5]]), 3.5),
    "np_f32_huge": (np.float32(3.4e38), float(np.float32(3.4e38))), "np_subnormal": (np.float64(5e-324), 5e-324),
    "t_bool": (torch.tensor(True), 1.0), "t_grad": (torch.tensor(0.5, requires_grad=True) * 2, 1.0),
    "t_view": (torch.arange(5.0)[3], 3.0), "t_1elem": (torch.tensor([[4.5]]), 4.5),
    "t_neg_zero": (torch.tensor(-0.0), -0.0), "t_f32_subnormal": (torch.tensor(1e-45), float(np.float32(1e-45))),
    "t_f64_max": (torch.tensor(1.7976931348623157e308, dtype=torch.float64), 1.7976931348623157e308),
    "t_f16_inf": (torch.tensor(70000.0, dtype=torch.float16), math.inf),
    "t_u64_max": (torch.tensor(2**64 - 1, dtype=torch.uint64), float(2**64 - 1)),
    "t_i64_min": (torch.tensor(-(2**63), dtype=torch.int64), float(-(2**63))),
}
for dt in FLOAT_DTYPES:
    CASES[f"t_{dt}".replace("torch.", "")] = (torch.tensor(1.5, dtype=dt), 1.5)
for dt in INT_DTYPES:
    CASES[f"t_{dt}".replace("torch.", "")] = (torch.tensor(3, dtype=dt), 3.0)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def test_every_odd_value_reaches_the_run_log_as_the_exact_float(tmp_path):
    def train(run):
        for name, (value, _) in CASES.items():
            run.log(**{name: value})

    lossmon.run(train, run_dir=tmp_path / "r", ui="plain")
    loaded = load_run(tmp_path / "r")
    assert loaded.malformed == 0
    for name, (_, want) in CASES.items():
        got = loaded.store.series(name).values().tolist()
        assert len(got) == 1 and same(got[0], want), (name, got, want)


@pytest.mark.parametrize("value, exc, needle", [
    (torch.tensor(1 + 2j), TypeError, "complex"),
    (torch.tensor(1.5).to(torch.complex64), TypeError, "complex"),
    (np.complex128(1j), TypeError, "complex"),
    (1j, TypeError, "metric 'odd'"),
    (np.datetime64("2026-01-01"), TypeError, "metric 'odd'"),
    (np.str_("0.5"), TypeError, "metric 'odd'"),
    (np.array(["a"]), TypeError, "metric 'odd'"),
    (torch.empty((), device="meta"), ValueError, "meta device"),
    (torch.zeros(0), ValueError, "shape (0,)"),
    (np.zeros((2, 2)), ValueError, "metric 'odd'"),
    (-(10 ** 400), ValueError, "too large"),
    (object(), TypeError, "metric 'odd'"),
])
def test_values_that_are_not_one_real_number_raise_one_clear_error(value, exc, needle):
    run = lossmon.Run()
    with pytest.raises(exc) as info:
        run.log(odd=value)
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert run.step == 0 and not run.backlog
