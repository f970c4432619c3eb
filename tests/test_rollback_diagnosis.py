import numpy as np
from lossmon.diagnosis.engine import Diagnoser


def test_after_a_rollback_the_new_branch_is_judged_on_its_own_not_against_the_abandoned_one():
    """The new branch starts again at the snapshot's (higher) level: against the abandoned branch's
    best, or a line through its first three points, a healthy restart looked like a spike, a
    divergence or a val plateau (seen on `lossmon demo spike-recovery` after two rollbacks)."""
    rng = np.random.default_rng(6)

    def loss(steps):
        return 2.0 * steps ** -0.45 * np.exp(rng.normal(0, 0.25, len(steps)))

    def val(steps):
        return 1.2 * steps ** -0.35 * np.exp(rng.normal(0, 0.03, len(steps)))

    first, again = np.arange(1, 3001), np.arange(501, 2501)
    vs1, vs2 = first[99::100], again[99::100]
    diag = Diagnoser(None, live=True)
    for lo in range(0, len(first), 50):
        st = first[lo:lo + 50]
        vv = vs1[(vs1 >= st[0]) & (vs1 <= st[-1])]
        diag.feed({"loss": (st.tolist(), loss(st).tolist()), "val_loss": (vv.tolist(), val(vv).tolist())})
    before = len(diag.alerts)
    rollback = {"event": "rollback", "step": 500, "applied": True, "from": 3000, "to": 500, "skipped": 200}
    for n, lo in enumerate(range(0, len(again), 50)):
        st = again[lo:lo + 50]
        vv = vs2[(vs2 >= st[0]) & (vs2 <= st[-1])]
        ys = loss(st)
        if n == 0:  # the restart's first points as the demo's real ones: falling fast, then batch noise
            ys[:6] = [0.317, 0.21, 0.168, 0.337, 0.407, 0.403]
        diag.feed({"loss": (st.tolist(), ys.tolist()), "val_loss": (vv.tolist(), val(vv).tolist())},
                  [rollback] if n == 0 else [])
    said = [(a["step"], a["kind"], a["message"]) for a in diag.alerts[before:] if a["state"] in ("open", "update")]
    assert not said, said
