"""The package's shape, checked on its real import graph (module- and function-level imports,
`if TYPE_CHECKING:` blocks aside): no cycles, only the views import textual or rich, only the
session and the CLI import the views, and no module reads another object's underscore attributes."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PKG = ROOT / "lossmon"
UI_LIBS = {"textual", "rich"}
VIEWS = "lossmon.views"
MAY_IMPORT_VIEWS = ("lossmon.session", "lossmon.cli", VIEWS)


def module_files() -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package's __init__)}."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


MODULES = module_files()


def _imports(tree: ast.AST) -> list[ast.AST]:
    """Every import statement, at any depth, outside `if TYPE_CHECKING:` blocks."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported(module: str) -> tuple[set[str], set[str]]:
    """(lossmon modules it imports, top-level outside packages it imports)."""
    path, is_pkg = MODULES[module]
    inside, outside = set(), set()
    for node in _imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_pkg else module.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for t in targets:
            if t.split(".")[0] != "lossmon":
                outside.add(t.split(".")[0])
                continue
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t != module:
                inside.add(t)
    return inside, outside


GRAPH = {m: imported(m) for m in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_is_read_whole():
    assert len(MODULES) >= 60
    inside, _ = GRAPH["lossmon.session.lifecycle"]
    assert "lossmon.views.tui.app" in inside  # a function-level import is an edge too
    assert "lossmon.training.run" not in GRAPH["lossmon.training.distributed"][0]  # TYPE_CHECKING only


def test_the_import_graph_has_no_cycles():
    assert cycles({m: inside for m, (inside, _) in GRAPH.items()}) == []


def test_the_cycle_check_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_views_import_textual_or_rich():
    offenders = sorted(f"{m} imports {lib}" for m, (_, outside) in GRAPH.items()
                       for lib in outside & UI_LIBS if not in_package(m, VIEWS))
    assert offenders == []
    assert GRAPH["lossmon.views.tui.app"][1] & UI_LIBS  # the check sees them where they are


def test_only_the_session_and_the_cli_import_the_views():
    offenders = sorted(f"{m} imports {t}" for m, (inside, _) in GRAPH.items() for t in inside
                       if in_package(t, VIEWS) and not any(in_package(m, p) for p in MAY_IMPORT_VIEWS))
    assert offenders == []


def test_the_views_import_nothing_from_the_session():
    offenders = sorted(f"{m} imports {t}" for m, (inside, _) in GRAPH.items() if in_package(m, VIEWS)
                       for t in inside if in_package(t, "lossmon.session") or t == "lossmon.cli")
    assert offenders == []


# A framework's private attribute an integration has to touch, with no public way to do the same.
# Lightning's LearningRateMonitor reads param_groups[i]["lr"] in `_extract_lr` and nowhere else
# public: the Lightning callback wraps it for the fit so the monitor logs the effective LR.
THIRD_PARTY_PRIVATE = {("lossmon.integrations.lightning", "_extract_lr"),
                       # torch's multi-tensor ops: what torch.optim itself uses, one launch per list
                       *(("lossmon.training.update_ratio", op) for op in ("_foreach_mul", "_foreach_sub_", "_foreach_norm")),
                       # Textual's driver restarts application mode on every SIGCONT; whether it was its own
                       # suspend is only in this flag (issue 18: a plain SIGSTOP/SIGCONT left the tty raw)
                       ("lossmon.views.tui.app", "_must_signal_resume"),
                       # the command palette's cursor-key action, wrapped to drop a key that arrives before its
                       # list is laid out (a KeyError in a burst of keys took the UI down)
                       ("lossmon.views.tui.screens", "_action_command_list")}


def test_no_module_reads_another_objects_underscore_attributes():
    reads = []
    for module, (path, _) in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                    and (module, node.attr) not in THIRD_PARTY_PRIVATE):
                reads.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert reads == []
