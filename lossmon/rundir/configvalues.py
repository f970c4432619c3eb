"""A run's configuration (hyperparameters) made safe for meta.json: `lossmon.config()`,
`lossmon.run(config_values=...)` and the argparse Namespace `lossmon run` captures.

Whatever the user hands over must neither fail the run nor bloat meta.json: keys become strings,
JSON scalars stay as they are (NaN/inf as their repr, which JSON has no word for), short lists of
scalars stay lists, anything else becomes its repr, cut to MAX_TEXT characters; at most MAX_KEYS keys.
"""

from __future__ import annotations

import math
from typing import Any

MAX_KEYS = 200
MAX_TEXT = 200
MAX_LIST = 16
TRUNCATED = "..."


def _text(s: str) -> str:
    return s if len(s) <= MAX_TEXT else s[: MAX_TEXT - len(TRUNCATED)] + TRUNCATED


def _repr(v: Any) -> str:
    try:
        return _text(repr(v))
    except Exception as e:  # noqa: BLE001 - a broken __repr__ must not fail the run
        return f"<{type(v).__name__}: repr failed: {type(e).__name__}>"


def json_safe(v: Any) -> Any:
    """One value as JSON can hold it (see the module's docstring)."""
    if v is None or isinstance(v, bool) or (isinstance(v, int) and abs(v) < 2**63):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, str):
        return _text(v)
    if isinstance(v, (list, tuple)) and len(v) <= MAX_LIST:
        items = [json_safe(x) for x in v]
        if all(x is None or isinstance(x, (bool, int, float, str)) for x in items):
            return items
    return _repr(v)


def safe_config(values: Any) -> dict[str, Any]:
    """A mapping (or an argparse Namespace, or anything with __dict__) as a JSON-safe dict;
    TypeError for anything else, said in one line."""
    if hasattr(values, "items"):
        items = list(values.items())
    elif hasattr(values, "__dict__") and not isinstance(values, type):
        items = list(vars(values).items())
    else:
        raise TypeError(f"config values must be a dict (or an argparse Namespace), got {type(values).__name__}")
    out: dict[str, Any] = {}
    for k, v in items[:MAX_KEYS]:
        out[_text(k if isinstance(k, str) else _repr(k))] = json_safe(v)
    return out


def shown(v: Any) -> str:
    """A config value as the views show it: strings bare, the rest as JSON would write them."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "null"}[v]
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ", ".join(shown(x) for x in v) + "]"
    return str(v)
