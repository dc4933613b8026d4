"""The package's import graph, built from the source with pyproject's folder mapping applied (`tinyzoo` = zoo/,
`tinyzoo.common` = common/, `tinyzoo.recipes` = recipes/): no cycle, one direction, imports at module level.

- No cycle among the package's modules, counting imports inside functions too (they must not hide one).
- One direction: `tinyzoo.common` never imports the CLI or the catalogue (zoo/) or a recipe; a recipe imports only
  `tinyzoo.common`. (Two lookups by name stay: a task's module from `tasks.get(name)` and a recipe's model.py from
  `builders.get_builder(name)`, timm's registry pattern; they are not imports of this graph.)
- Project imports inside a function only where the module is light and what it imports is heavy: the catalogue,
  the CLI, the configuration and the task descriptions load without torch (`tinyzoo list` takes a tenth of a
  second), and reach the chain when a command needs it. Heavy = importing it imports torch or executorch.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"tinyzoo.common": REPO / "common", "tinyzoo.recipes": REPO / "recipes", "tinyzoo": REPO / "zoo"}
HEAVY_PACKAGES = ("torch", "torchaudio", "torchvision", "executorch")


def _modules() -> dict[str, Path]:
    mods = {}
    for package, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join([package, *parts])] = path
    return mods


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The package module an imported dotted name lives in (`tinyzoo.common.config.Key` → tinyzoo.common.config)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _in_type_checking(node, parents) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _in_function(node, parents) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
    return False


def _imports(module: str) -> list[tuple[str, bool, int]]:
    """(imported name, inside a function, line) of each import statement of `module` (not under TYPE_CHECKING)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or _in_type_checking(node, parents):
            continue
        local = _in_function(node, parents)
        if isinstance(node, ast.Import):
            out += [(alias.name, local, node.lineno) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:   # relative: from the module's package
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:   # `from pkg import module` imports the module, `from mod import name` the module
            full = f"{base}.{alias.name}"
            out.append((full if full in MODULES else base, local, node.lineno))
    return out


def _edges() -> dict[str, list[tuple[str, bool, int]]]:
    edges = {}
    for module in MODULES:
        edges[module] = [(target, local, line) for name, local, line in _imports(module)
                         if name.split(".")[0] == "tinyzoo" and (target := _resolve(name)) and target != module]
    return edges


EDGES = _edges()


def _heavy() -> set[str]:
    """Modules whose import (module level, transitively) imports torch or executorch."""
    direct = {m for m in MODULES if any(not local and name.split(".")[0] in HEAVY_PACKAGES
                                        for name, local, _ in _imports(m))}
    heavy, changed = set(direct), True
    while changed:
        changed = False
        for module, targets in EDGES.items():
            if module not in heavy and any(not local and t in heavy for t, local, _ in targets):
                heavy.add(module)
                changed = True
    return heavy


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module):
        state[module] = 1
        stack.append(module)
        for target, _, _ in EDGES[module]:
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[module] = 2
        stack.pop()
        return None

    for module in sorted(MODULES):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_graph_sees_the_mapped_packages():
    assert {"tinyzoo.cli", "tinyzoo.common.config", "tinyzoo.common.tasks", "tinyzoo.recipes.kws.ds_cnn.model"} \
        <= set(MODULES)
    assert ("tinyzoo.common.errors", False) in {(t, local) for t, local, _ in EDGES["tinyzoo.common.config"]}
    assert "tinyzoo.common.chain" in _heavy() and "tinyzoo.common.errors" not in _heavy()


def test_no_import_cycle():
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_imports_go_one_way():
    zoo = {m for m in MODULES if not m.startswith(("tinyzoo.common", "tinyzoo.recipes"))}
    upward = [f"{m} imports {t} (line {line})" for m, targets in EDGES.items() for t, _, line in targets
              if (m.startswith("tinyzoo.common") and (t in zoo or t.startswith("tinyzoo.recipes")))
              or (m.startswith("tinyzoo.recipes") and not t.startswith(("tinyzoo.common", "tinyzoo.recipes")))]
    assert upward == []


def test_function_local_imports_only_of_heavy_modules_from_light_ones():
    heavy = _heavy()
    wrong = [f"{m}:{line} imports {t} inside a function" for m, targets in EDGES.items() for t, local, line in targets
             if local and (m in heavy or t not in heavy)]
    assert wrong == []


def test_importing_the_errors_runs_neither_the_cli_nor_the_catalogue():
    code = ("import sys, json; import tinyzoo.common.errors; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tinyzoo'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["tinyzoo", "tinyzoo.common", "tinyzoo.common.errors"]
