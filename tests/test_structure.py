"""The package's shape: imports run one way through the pipeline, and no module
imports another that (directly or not) imports it back. Read from the source
with `ast`, so an import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "qa"

# Lower layers never import higher ones: apps -> evaluation -> training ->
# answering -> index -> ingest -> language -> the shared base.
LAYERS = ("base", "language", "ingest", "index", "answering", "training", "evaluation", "apps")
PRODUCT = ("base", "language", "ingest", "index", "answering")
MAX_LINES = 400


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    """The qa modules a file imports, anywhere in it (`from qa.x import y` names
    qa.x.y when that is a module, else qa.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "qa")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "qa":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files)
    return {name: imports(path, known) - {name} for name, path in files.items()}


def test_every_qa_import_names_a_module():
    # An import inside a function is only run when called: a moved module must not leave one behind.
    edges = graph()
    missing = [f"{m} imports {d}" for m, deps in edges.items() for d in deps if d not in edges]
    assert not missing, "\n".join(missing)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "base"


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


# The package facade (`from qa import Assistant`) and `python -m qa` sit above everything.
TOP = {"qa", "qa.__main__"}


def test_no_import_cycle():
    edges = {m: {d for d in deps if d not in TOP} for m, deps in graph().items() if m not in TOP}
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges))}"


def test_imports_run_down_the_pipeline():
    wrong = []
    for module, deps in graph().items():
        if module in TOP:
            continue
        for dep in deps - TOP:
            if LAYERS.index(layer(dep)) > LAYERS.index(layer(module)):
                wrong.append(f"{module} imports {dep}")
    assert not wrong, "imports against the pipeline's direction:\n" + "\n".join(sorted(wrong))


def test_product_never_imports_training_or_evaluation():
    product = {m: deps for m, deps in graph().items() if layer(m) in PRODUCT and m not in TOP}
    leaks = [f"{m} imports {d}" for m, deps in product.items() for d in deps if layer(d) not in PRODUCT]
    assert not leaks, "\n".join(leaks)


def test_modules_stay_small():
    big = [f"{p.relative_to(ROOT.parent)}: {n} lines" for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not big, "split these modules:\n" + "\n".join(big)


def test_the_cycle_finder_finds_cycles(tmp_path):
    # The checks above must be able to fail: a two-module circle, one import hidden in a function.
    pkg = tmp_path / "qa"
    (pkg / "answering").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "answering" / "__init__.py").write_text("")
    (pkg / "answering" / "a.py").write_text("from qa.answering import b\n")
    (pkg / "answering" / "b.py").write_text("def f():\n    from qa.answering.a import thing\n")
    (pkg / "training.py").write_text("")
    edges = graph(pkg)
    assert find_cycle(edges) == ["qa.answering.a", "qa.answering.b", "qa.answering.a"]
    assert layer("qa.answering.a") == "answering" and layer("qa.errors") == "base" and layer("qa.training.train") == "training"


@pytest.mark.parametrize("module", ["qa", "qa.answering.assistant", "qa.language.question"])
def test_import_qa_is_light(module):
    # torch, transformers and faiss load on first use, never on import.
    import subprocess
    import sys

    code = f"import sys, {module}; heavy = [m for m in ('torch', 'transformers', 'faiss', 'sentence_transformers', 'gradio') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import {module} loads {out}"


# The command line's main() is the one entry point inside the package (app.py is the other).
ENTRY_POINTS = {"qa.apps.cli"}


def test_no_environment_writes_or_process_wide_torch_switches_outside_entry_points():
    found = []
    for path in ROOT.rglob("*.py"):
        if module_name(path) in ENTRY_POINTS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = ast.unparse(node) if isinstance(node, (ast.Assign, ast.Call)) else ""
            if isinstance(node, ast.Assign) and any("os.environ" in ast.unparse(t) for t in node.targets):
                found.append(f"{module_name(path)}: {text}")
            if isinstance(node, ast.Call) and any(s in text for s in ("os.environ.setdefault", "os.environ.update", "os.putenv", "set_grad_enabled(False)")):
                found.append(f"{module_name(path)}: {text}")
    assert not found, "\n".join(found)
