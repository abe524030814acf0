"""The architecture as a test: layers point one way, and the pure cores stay pure.

Layers (docs/architecture.md): ``bus`` at the bottom, ``broker`` beside it (its command
line uses bus's shell); ``watcher``,
``led_agent`` and ``sim`` on them; ``console`` on those; ``demo`` on top. ``devices``
use ``bus`` and may reuse ``led_agent``. Read statically from every import statement
of every module (function-level imports included), so a lazy import cannot hide.

Purity: the modules that docs/architecture.md lists as the *pure core* (its table is
read here, so the doc and the check cannot drift apart) import none of the I/O
libraries below — neither directly nor through any project module they import. That is
checked statically over our own import graph, and again in a fresh interpreter per
module for the third-party I/O libraries (the standard library's ``socket`` arrives
with pydantic's e-mail support, so the dynamic check leaves stdlib modules to the
static one).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.support.paths import ROOT

PACKAGES = ("bus", "broker", "watcher", "led_agent", "sim", "console", "demo", "devices")

MAY_IMPORT: dict[str, frozenset[str]] = {
    "bus": frozenset(),
    "broker": frozenset({"bus"}),
    "watcher": frozenset({"bus"}),
    "led_agent": frozenset({"bus"}),
    "sim": frozenset({"bus"}),
    "console": frozenset({"bus", "sim"}),
    "demo": frozenset({"bus", "broker", "watcher", "led_agent", "sim", "console"}),
    "devices": frozenset({"bus", "led_agent"}),
}

IO_LIBRARIES = frozenset({"paho", "kubernetes", "urllib3", "starlette", "httpx", "uvicorn"})
IO_STDLIB = frozenset({"socket", "subprocess", "http"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "micropython" not in path.parts:  # MicroPython files run on boards, not here
                modules[module_name(path)] = path
    return modules


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module named by an import statement anywhere in ``module`` (absolute names)."""
    path = project_modules()[module]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def project_imports(module: str) -> Iterator[str]:
    """The project modules ``module`` imports (``from x import name`` counts ``x``, and ``x.name``
    when that is a module)."""
    known = project_modules()
    return (name for name in imports_of(module) if name in known)


def closure(module: str) -> set[str]:
    seen, todo = {module}, [module]
    while todo:
        for name in project_imports(todo.pop()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def pure_modules() -> list[str]:
    """The modules in the *pure core* column of docs/architecture.md's table."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Pure core, thin shell", 1)[1].split("\n## ", 1)[0]
    modules = []
    for row in re.findall(r"^\| (\w+) \| (.*?) \|", table, re.M):
        part, cell = row
        modules += [f"{part}.{name.replace('/', '.')}" for name in re.findall(r"`([\w/]+)\.py`", cell)]
    return modules


def test_the_layer_table_names_every_package() -> None:
    assert set(MAY_IMPORT) == set(PACKAGES)
    assert len(project_modules()) >= 90


@pytest.mark.parametrize("module", sorted(project_modules()))
def test_imports_point_down_the_layers(module: str) -> None:
    package = module.split(".", maxsplit=1)[0]
    allowed = MAY_IMPORT[package] | {package}
    wrong = sorted({name for name in imports_of(module) if name.split(".")[0] in PACKAGES} - {
        name for name in imports_of(module) if name.split(".")[0] in allowed
    })
    assert not wrong, f"{module} ({package}) may import only {sorted(allowed)}, imports {wrong}"


def test_the_docs_list_the_pure_core_and_every_listed_module_exists() -> None:
    pure = pure_modules()
    assert len(pure) >= 20, pure
    missing = [m for m in pure if m not in project_modules()]
    assert not missing, f"docs/architecture.md lists modules that do not exist: {missing}"


@pytest.mark.parametrize("module", pure_modules())
def test_a_pure_module_imports_no_io_statically(module: str) -> None:
    for name in sorted(closure(module)):
        roots = {imported.split(".")[0] for imported in imports_of(name)}
        io = sorted(roots & (IO_LIBRARIES | IO_STDLIB))
        assert not io, f"{module} is listed as pure, but {name} (which it imports) imports {io}"


def test_pure_modules_load_no_io_library_in_a_fresh_interpreter() -> None:
    probe = "import importlib, sys; importlib.import_module(sys.argv[1]); print(' '.join(sorted(sys.modules)))"
    running = {m: subprocess.Popen([sys.executable, "-c", probe, m], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
               for m in pure_modules()}  # fmt: skip
    loaded = {}
    for module, process in running.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, f"{module}: {err}"
        loaded[module] = sorted(IO_LIBRARIES & {name.split(".")[0] for name in out.split()})
    assert {m: libs for m, libs in loaded.items() if libs} == {}
