"""The simulator stands alone: nothing under simulator/ imports the harness (clinic2fa.scenarios).

The harness builds on the simulator (a seeded defect is a Clinic subclass, `serve --defect`
passes its factory into the server), never the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

SIMULATOR = Path(__file__).resolve().parent.parent / "simulator"
HARNESS = "clinic2fa.scenarios"


def imported(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) for every import statement, top-level or inside a function."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


def test_no_simulator_module_imports_the_harness() -> None:
    paths = sorted(SIMULATOR.rglob("*.py"))
    assert len(paths) > 20  # the walk sees the simulator
    wrong = [f"{path.relative_to(SIMULATOR.parent)}:{line} imports {module}"
             for path in paths for line, module in imported(ast.parse(path.read_text("utf-8")))
             if module == HARNESS or module.startswith(f"{HARNESS}.")]
    assert not wrong, wrong


def test_the_check_sees_an_import_of_the_harness_inside_a_function() -> None:
    tree = ast.parse("def f():\n    from clinic2fa.scenarios.selfcheck import defects\n")
    assert imported(tree) == [(2, "clinic2fa.scenarios.selfcheck")]
