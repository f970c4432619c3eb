"""The metric picker's filter: the typed letters in order (a subsequence, as editors' fuzzy
finders take them), best matches first. No dependency: rapidfuzz's scores would not change which
of a run's few dozen metric names match."""

from __future__ import annotations


def score(query: str, name: str) -> float | None:
    """None if `query`'s characters are not all in `name` in order (case-insensitive); otherwise
    lower is better: a match that starts early and runs contiguously ranks first."""
    q, n = query.lower(), name.lower()
    if not q:
        return 0.0
    if q in n:
        return n.index(q) * 0.01  # a substring beats any scattered match
    pos, gaps, first = -1, 0, None
    for ch in q:
        i = n.find(ch, pos + 1)
        if i < 0:
            return None
        if first is None:
            first = i
        elif i > pos + 1:
            gaps += i - pos - 1
        pos = i
    return 1.0 + gaps + 0.01 * (first or 0)


def filter_names(query: str, names: list[str]) -> list[str]:
    """The names that match, best first (ties keep the given order)."""
    scored = [(s, i, n) for i, n in enumerate(names) if (s := score(query.strip(), n)) is not None]
    return [n for _, _, n in sorted(scored)]
