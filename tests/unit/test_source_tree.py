"""The source tree knows MNIST's sizes in one place: nothing outside the data sources
(rnncls/datasets/) and the picture reader (rnncls/images.py) writes 28, 784 or 255, or
10 as a number of classes. Every other module takes the sizes from the run's data set."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "rnncls"
KNOWING = ("datasets/", "images.py")  # where MNIST's sizes may be written
SIZES = {28, 784, 255}
# Calls whose argument 10 would be a class count (range(10), Dense(10), ...).
CLASS_COUNT_CALLS = {"range", "Dense", "zeros", "eye", "arange"}
CLASS_COUNT_NAMES = {"num_classes", "classes", "NUM_CLASSES", "CLASSES"}


def literals(tree: ast.AST) -> list[tuple[int, object, str]]:
    """(line, value, why) of each number of MNIST's in a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if node.value in SIZES:
                found.append((node.lineno, node.value, "a size or pixel range"))
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in CLASS_COUNT_CALLS and any(_is_ten(arg) for arg in node.args):
                found.append((node.lineno, 10, f"a class count in {name}()"))
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Compare, ast.keyword)):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            names |= {node.arg} if isinstance(node, ast.keyword) and node.arg else set()
            if names & CLASS_COUNT_NAMES and any(_is_ten(n) for n in ast.walk(node)):
                found.append((node.lineno, 10, "a class count"))
    return sorted(found)


def _is_ten(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == 10


def test_no_module_outside_the_data_sources_knows_mnists_sizes() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(KNOWING[0]) or relative == KNOWING[1]:
            continue
        for line, value, why in literals(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"rnncls/{relative}:{line}: {value} ({why})")
    assert offenders == []


def test_the_check_finds_what_it_looks_for() -> None:
    """The check itself, on hand-made modules: each line of ``caught`` is found, none of
    ``passed``."""
    caught = "x = images.reshape(-1, 28, 28)\ny = z / 255.0\nDense(10)\nnum_classes = 10\n"
    passed = "columns = min(count, 10)\nfont = 10\ntimeout = 10\nx = sizes[28:]\n"
    assert [line for line, _, _ in literals(ast.parse(caught))] == [1, 1, 2, 3, 4]
    assert [line for line, _, _ in literals(ast.parse(passed))] == [4]  # 28, even in a slice
