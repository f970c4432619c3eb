import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lossmon.recording.store import BLOCK, MetricStore, Series

values_st = st.floats(allow_nan=True, allow_infinity=True, width=64)


def brute(steps, values, edges):
    """Reference: per column, finite min/max, last, count and non-finite count."""
    out = []
    for c in range(len(edges) - 1):
        lo_edge, hi_edge = np.ceil(edges[c]), np.ceil(edges[c + 1])
        sel = [(s, v) for s, v in zip(steps, values) if lo_edge <= s < hi_edge]
        vals = np.array([v for _, v in sel], dtype=np.float64)
        fin = vals[np.isfinite(vals)]
        out.append((
            fin.min() if len(fin) else np.nan,
            fin.max() if len(fin) else np.nan,
            vals[-1] if len(vals) else np.nan,
            len(vals),
            len(vals) - len(fin),
        ))
    return out


def same(a, b):
    return (np.isnan(a) and np.isnan(b)) or a == b


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 3), values_st), min_size=0, max_size=700),
    chunks=st.lists(st.integers(1, 97), min_size=1, max_size=20),
    columns=st.integers(1, 40),
    window=st.one_of(st.none(), st.tuples(st.integers(-5, 400), st.integers(0, 400))),
)
def test_envelope_matches_brute_force(data, chunks, columns, window):
    # steps: non-decreasing with gaps and repeats, as real logs have
    steps = np.cumsum([gap for gap, _ in data]).astype(np.int64)
    values = np.array([v for _, v in data], dtype=np.float64)
    s = Series("loss")
    i = k = 0
    while i < len(values):
        n = chunks[k % len(chunks)]
        s.extend(steps[i:i + n], values[i:i + n])
        i += n
        k += 1
    start, end = (None, None) if window is None else (window[0], window[0] + window[1])
    env = s.envelope(columns, start, end)
    assert len(env.lo) == columns and len(env.edges) == columns + 1
    for c, (lo, hi, last, count, bad) in enumerate(brute(steps, values, env.edges)):
        assert same(env.lo[c], lo), (c, env.lo[c], lo)
        assert same(env.hi[c], hi), (c, env.hi[c], hi)
        assert same(env.last[c], last)
        assert env.count[c] == count
        assert env.nonfinite[c] == bad
    # A second series on the same steps, filled in one piece (other capacities) and all finite: the
    # path that skips the finiteness masks must give the same envelope.
    other = np.nan_to_num(-values, nan=1.5, posinf=2.5, neginf=-2.5)
    s2 = Series("smoothed")
    s2.extend(steps, other)
    env2 = s2.envelope(columns, start, end)
    for c, (lo, hi, last, count, bad) in enumerate(brute(steps, other, env2.edges)):
        assert same(env2.lo[c], lo) and same(env2.hi[c], hi) and same(env2.last[c], last), c
        assert env2.count[c] == count and env2.nonfinite[c] == bad == 0


def test_single_spike_among_a_million_points_is_visible_at_any_zoom():
    n = 1_000_000
    s = Series("loss")
    values = np.full(n, 0.5)
    values[777_777] = 5.6
    s.extend(np.arange(n), values)
    for columns in (10, 80, 200, 997):
        env = s.envelope(columns)
        assert np.nanmax(env.hi) == 5.6
        assert env.count.sum() == n


def test_nonfinite_values_are_kept_and_counted():
    s = Series("loss")
    s.extend(np.arange(5), np.array([1.0, np.nan, np.inf, -np.inf, 2.0]))
    assert len(s) == 5 and s.nonfinite == 3
    assert np.isnan(s.values()[1]) and s.values()[2] == np.inf
    env = s.envelope(1)
    assert env.lo[0] == 1.0 and env.hi[0] == 2.0 and env.nonfinite[0] == 3 and env.last[0] == 2.0


def test_out_of_order_steps_are_kept_and_counted():
    s = Series("loss")
    s.extend(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    s.extend(np.array([2, 4]), np.array([9.0, 4.0]))
    assert len(s) == 5 and s.out_of_order == 1
    assert list(s.values()) == [1.0, 2.0, 3.0, 9.0, 4.0]


def test_memory_per_point_within_budget():
    s = Series("loss")
    n = 3_000_000
    for k in range(0, n, 250_000):
        s.extend(np.arange(k, k + 250_000), np.random.default_rng(k).normal(size=250_000))
    assert len(s) == n
    assert s.nbytes() / n <= 24.0


def test_readers_never_see_torn_data_while_the_writer_appends():
    """Values equal their steps; a reader racing the writer must always see that, and envelopes
    whose min/max lie inside their column's step range."""
    s = Series("loss")
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            steps, values = s.steps(), s.values()
            n = min(len(steps), len(values))
            if not np.array_equal(steps[:n].astype(np.float64), values[:n]):
                errors.append("steps/values mismatch")
            env = s.envelope(50)
            has = env.count > 0
            if np.any(env.lo[has] < np.ceil(env.edges[:-1][has])) or np.any(env.hi[has] >= np.ceil(env.edges[1:][has])):
                errors.append("envelope outside its column")

    t = threading.Thread(target=reader)
    t.start()
    try:
        for k in range(0, 400_000, 1_333):
            chunk = np.arange(k, k + 1_333)
            s.extend(chunk, chunk.astype(np.float64))
    finally:
        stop.set()
        t.join()
    assert not errors, errors[:3]
    assert len(s) == len(range(0, 400_000, 1_333)) * 1_333


def test_store_groups_points_and_events_and_tracks_version():
    store = MetricStore()
    v0 = store.version
    store.append_points({"loss": ([1, 2], [0.5, 0.4]), "val_loss": ([2], [0.6])})
    store.append_events([{"event": "pause", "step": 2}])
    assert store.version > v0
    assert store.last_step == 2
    assert store.by_role("train_loss").name == "loss"
    assert store.by_role("val_loss").last() == (2, 0.6)
    assert store.events[-1]["event"] == "pause"


def test_envelope_rejects_zero_columns():
    with pytest.raises(ValueError):
        Series("x").envelope(0)


def test_pyramid_levels_cover_whole_blocks_only():
    s = Series("x")
    s.extend(np.arange(BLOCK * BLOCK + 3), np.arange(BLOCK * BLOCK + 3, dtype=np.float64))
    env = s.envelope(1)
    assert env.lo[0] == 0 and env.hi[0] == BLOCK * BLOCK + 2 and env.count[0] == BLOCK * BLOCK + 3
