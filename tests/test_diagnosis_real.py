"""The detectors on real curves (benchmarks/curves/): one test per failure class seen on real runs,
each on a curve from the corpus, plus the whole corpus scored against the targets.

The curves are public training code run here with events injected at known steps, or logs people
published; their labels were set by hand, without lossmon (benchmarks/curves/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_diagnosis  # noqa: E402
import corpus  # noqa: E402

from lossmon.diagnosis.check import run_check  # noqa: E402


def curve(cid: str) -> corpus.Curve:
    hits = list(corpus.CURVES.glob(f"*/{cid}.json"))
    assert hits, f"corpus curve {cid} is missing"
    return corpus.load(hits[0])


def alerts(cid: str, per: int = 1) -> list[dict]:
    return bench_diagnosis.run_lossmon(curve(cid), per)


def raised(found: list[dict], kinds=None) -> list[dict]:
    return [a for a in found if a["severity"] in ("warning", "critical") and (kinds is None or a["kind"] in kinds)]


def as_run_log(c: corpus.Curve, path: Path) -> Path:
    """The curve as a JSONL file `lossmon check` reads (one row per step)."""
    rows: dict[int, dict] = {}
    for name, (st, va) in c.series.items():
        for s, v in zip(st.tolist(), va.tolist()):
            rows.setdefault(s, {"step": s})[name] = v if np.isfinite(v) else "NaN"
    path.write_text("".join(json.dumps(rows[s]) + "\n" for s in sorted(rows)))
    return path


# ---- early blow-ups ---------------------------------------------------------------------------

def test_an_lr_far_too_high_from_the_start_is_critical_at_once_and_check_exits_1(tmp_path, capsys):
    """pytorch/examples mnist at --lr 50: 2.3 -> ~5000 at step 2, then stuck at ln 10."""
    found = alerts("mnist-lr50")
    div = [a for a in found if a["kind"] == "divergence"]
    assert div and div[0]["severity"] == "critical" and div[0]["step"] <= 3
    assert "chance for 10 classes" in " ".join(a["message"] for a in div)  # it says where it got stuck
    code = run_check(str(as_run_log(curve("mnist-lr50"), tmp_path / "m.jsonl")))
    assert code == 1 and "divergence" in capsys.readouterr().out


def test_a_blow_up_over_the_first_points_of_a_language_model_is_found():
    found = raised(alerts("wlm-lr200"), {"divergence"})
    assert found and found[0]["step"] <= 12


# ---- stalls, small LRs and what the advice says -----------------------------------------------

@pytest.mark.parametrize("cid", ["mnist-lr-low", "wlm-lr-low"])
def test_a_constant_lr_100x_too_small_is_never_told_to_cut_the_lr(cid):
    found = alerts(cid)
    assert not [a for a in found if a.get("action") == "lr_half"], [a["message"] for a in found]


def test_a_loss_at_the_chance_level_since_the_start_is_a_stall():
    """A published HF run that never left ln 4 (a 4-way multiple choice): not learning at all."""
    stall = [a for a in alerts("hf-quality-lrqa-chance-stall") if a["kind"] == "stall"]
    assert stall and stall[0]["severity"] == "warning" and "ln 4" in stall[0]["message"]


@pytest.mark.parametrize("cid", ["makemore-lrdrop", "mnist-lrdrop-6ep", "nanogpt-lrdrop"])
def test_an_abrupt_lr_cut_is_its_own_note_and_never_converged(cid):
    c = curve(cid)
    found = alerts(cid)
    drop = [a for a in found if a["kind"] == "lr_drop"]
    assert drop and drop[0]["step"] == c.labels[0].onset
    assert not [a for a in found if a.get("converged")], [a["message"] for a in found if a.get("converged")]


def test_an_lr_cut_made_from_lossmon_is_not_a_schedule_mistake():
    c = curve("makemore-lrdrop")
    at = c.labels[0].onset
    c.events = [{"event": "lr_change", "step": at - 1, "applied": True, "source": "key"}]
    assert not [a for a in bench_diagnosis.run_lossmon(c) if a["kind"] == "lr_drop"]


# ---- healthy curves stay quiet ----------------------------------------------------------------

@pytest.mark.parametrize("cid", ["keras-cnn-tomato-leaf", "yolo-v8s-fire-smoke", "hf-vit-irrigation",
                                 "mnist-healthy", "wlm-healthy"])
def test_noisy_but_healthy_curves_raise_no_warning(cid):
    c = curve(cid)
    outside = [a for a in raised(alerts(cid)) if not any(lo <= a["step"] <= hi for lo, hi in c.dont_care)]
    assert outside == [], [a["message"] for a in outside]


# ---- overfitting on few evaluations -----------------------------------------------------------

def test_overfitting_on_five_evaluations_is_confirmed_one_evaluation_after_it_shows():
    over = [a for a in alerts("hf-whisper-large-v2-ja-overfit") if a["kind"] == "overfitting"]
    assert over and over[0]["step"] == 3000  # evals at 1000 (best), 2000 (+11 %), 3000 (+23 %)


# ---- NaN and spikes ---------------------------------------------------------------------------

def test_nan_is_critical_at_its_step():
    nan = [a for a in alerts("wlm-nan") if a["kind"] == "nonfinite"]
    assert nan and nan[0]["step"] == 201 and nan[0]["severity"] == "critical"


def test_a_spike_three_points_into_a_pasted_log_is_found():
    spike = [a for a in alerts("issue-waveglow-loss-spike") if a["kind"] == "spike"]
    assert spike and spike[0]["step"] == 78620


# ---- live and check say the same -------------------------------------------------------------

@pytest.mark.parametrize("cid", ["mnist-lr50", "hf-quality-lrqa-chance-stall", "issue-waveglow-loss-spike",
                                 "hf-whisper-large-v2-ja-overfit", "mnist-badbatch"])
def test_the_same_alerts_with_the_same_words_whatever_the_feed_size(cid):
    """Live ticks hand a few points at a time, `lossmon check` thousands: same steps, same words."""
    said = [[(a["step"], a["kind"], a["state"], a["message"]) for a in alerts(cid, per)] for per in (1, 7, 10**6)]
    assert said[0] == said[1] == said[2]


@pytest.fixture(scope="module")
def scored():
    """The whole corpus through the scorer once (it feeds each curve point by point, as live ticks
    do): the score test and the feed-size test below both read it."""
    curves = corpus.load_all()
    results, outcomes = bench_diagnosis.evaluate(curves, ["lossmon"])
    return curves, results, outcomes["lossmon"][1]


@pytest.mark.slow
@pytest.mark.xdist_group("real-corpus")  # one worker computes `scored` for both tests
def test_every_real_curve_gets_the_same_alerts_fed_point_by_point_and_whole(scored):
    curves, _, said = scored
    for c in curves:
        one = [(a["step"], a["kind"], a["state"], a["message"]) for a in said[c.id]]
        whole = [(a["step"], a["kind"], a["state"], a["message"]) for a in bench_diagnosis.run_lossmon(c, 10**6)]
        assert one == whole, c.id


# ---- the whole corpus -------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.xdist_group("real-corpus")
def test_the_corpus_scores_no_worse_than_measured(scored):
    """The whole corpus through the scorer (benchmarks/bench_diagnosis.py). The floors are the
    figures measured when this landed, so a change that loses a finding fails here; the issue's
    targets (instability and overfitting 0.9/0.9, slow recall 0.7, every early blow-up) are not all
    met yet: the README lists what is missed and why."""
    curves, results, _ = scored
    assert len(curves) >= 40 and sum(c.healthy for c in curves) >= 12
    res = results["lossmon"]
    inst, over, slow = (res["classes"][k] for k in ("instability", "overfitting", "slow"))
    table = bench_diagnosis.table(results)
    assert inst.precision >= 0.95 and inst.recall >= 0.8, table
    assert over.precision >= 0.9 and over.recall >= 0.8, table
    assert slow.precision >= 0.9 and slow.recall >= 0.55, table
    assert res["nan"].recall == 1.0 and max(res["nan"].delays) <= 1, table  # 1: a sparse NaN grad norm
    assert res["early"].recall >= 0.65, table
    assert res["healthy_alarms"] == 0, table
