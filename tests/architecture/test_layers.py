"""The layers of docs/architecture.md, checked against every import in plugin/ (module level and
inside functions alike): an import may point to its own layer or one below, never up; the engine
and the workers never load Flask."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugin"

DOC = ROOT / "docs" / "architecture.md"


def layers_of_doc() -> list[tuple[str, tuple[str, ...]]]:
    """The layer table of docs/architecture.md, top to bottom: (layer, module prefixes)."""
    text = DOC.read_text()
    table = text[text.index("<!-- layers:") :].split("\n\n")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    return [(row.split("|")[1].strip(), tuple(re.findall(r"`([\w.]+)`", row.split("|")[2]))) for row in rows]


LAYERS = layers_of_doc()
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def layer_of(module: str) -> str:
    for name, prefixes in LAYERS:
        if any(module == p or (p != "plugin" and module.startswith(p + ".")) for p in prefixes):
            return name
    raise AssertionError(f"{module} is in no layer")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("plugin")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            if base.startswith("plugin"):
                # `from plugin.x import y` may name a submodule y: judge that, else x
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    as_file = ROOT / (candidate.replace(".", "/") + ".py")
                    as_pkg = ROOT / candidate.replace(".", "/") / "__init__.py"
                    found.append((node.lineno, candidate if as_file.exists() or as_pkg.exists() else base))
    return found


def test_the_documented_layers_cover_every_package():
    names = [name for name, _ in LAYERS]
    assert names == ["run", "api", "ingest", "jobs", "engine", "storage", "nodes", "transport", "base"]
    for package in sorted(p for p in PLUGIN.iterdir() if (p / "__init__.py").exists()):
        assert layer_of(module_of(package / "__init__.py"))
    for module in sorted(p for p in PLUGIN.glob("*.py")):
        assert layer_of(module_of(module))


def all_modules():
    return sorted(p for p in PLUGIN.rglob("*.py") if "migrations/versions" not in str(p))


def test_every_import_points_down():
    upward = []
    for path in all_modules():
        module = module_of(path)
        mine = RANK[layer_of(module)]
        for line, target in imports_of(path, module):
            if RANK[layer_of(target)] < mine:
                upward.append(
                    f"{path.relative_to(ROOT)}:{line} ({layer_of(module)}) imports {target} ({layer_of(target)})"
                )
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_no_import_cycle_between_modules():
    graph = {}
    for path in all_modules():
        module = module_of(path)
        graph[module] = {t for _, t in imports_of(path, module) if t != module}
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append([*stack[stack.index(node) :], node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if not nxt.startswith("plugin.") or nxt.count(".") == 0:
                continue  # `plugin` itself (the version) is a leaf
            visit(nxt)
        stack.pop()

    for module in sorted(graph):
        visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "module",
    [
        "plugin.engine.runner",
        "plugin.engine.batch",
        "plugin.engine.execution",
        "plugin.jobs.worker",
        "plugin.jobs.queue",
    ],
)
def test_engine_and_workers_do_not_load_flask(module):
    code = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'flask_smorest', 'flask_sqlalchemy', 'werkzeug') or m.startswith('plugin.api'))\n"
        "print(' '.join(loaded))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing {module} loads {out}"


def test_modules_and_functions_stay_small():
    """Issue #21's limits: a module of plugin/ at most 400 lines, a function at most 60."""
    too_long = []
    for path in all_modules():
        lines = path.read_text().count("\n")
        if lines > 400:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)
