"""The Makefile's installs, with the real make in dry-run mode (``make -n``) on a copy of it.

``make demo`` installs the runtime only; ``make test`` the test tools on top of it; each
install has a stamp named by its files' checksum, so nothing reinstalls until a
requirements file changes, and ``make test`` after ``make demo`` adds only the test tools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

FILES = ("Makefile", "requirements.txt", "requirements-dev.txt", "package.json", "package-lock.json")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in FILES:
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def planned(where: Path, target: str) -> str:
    """What ``make -n target`` would run, as from a shell (not the variables of a ``make test`` around us)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    done = subprocess.run(["make", "-n", target], cwd=where, capture_output=True, text=True, timeout=60, check=False,
                          env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def checksum(where: Path, *names: str) -> str:
    data = b"".join((where / name).read_bytes() for name in names)
    return subprocess.run(["cksum"], input=data, capture_output=True, check=True).stdout.split()[0].decode()


def with_venv(where: Path) -> Path:
    venv = where / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    return venv


def runtime_stamp(where: Path) -> Path:
    return where / ".venv" / f".runtime-{checksum(where, 'requirements.txt')}"


def dev_stamp(where: Path) -> Path:
    return where / ".venv" / f".installed-{checksum(where, 'requirements.txt', 'requirements-dev.txt')}"


def test_a_fresh_clone_demo_makes_the_venv_and_installs_the_runtime_only(copy: Path) -> None:
    plan = planned(copy, "demo")
    assert "-m venv --without-pip .venv" in plan
    assert "-r requirements.txt" in plan and "requirements-dev.txt" not in plan
    assert plan.rstrip().endswith("-m demo --scenario tour")


def test_a_fresh_clone_test_installs_the_runtime_then_the_test_tools(copy: Path) -> None:
    plan = planned(copy, "test")
    assert plan.index("-r requirements.txt") < plan.index("-r requirements-dev.txt") < plan.index("-m pytest")
    assert "compileall" in plan


def test_after_make_demo_make_test_adds_only_the_test_tools(copy: Path) -> None:
    with_venv(copy)
    runtime_stamp(copy).touch()
    assert "install" not in planned(copy, "demo")
    plan = planned(copy, "test")
    assert "-r requirements-dev.txt" in plan and "-r requirements.txt" not in plan and "-m venv" not in plan


def test_nothing_reinstalls_until_a_requirements_file_changes(copy: Path) -> None:
    with_venv(copy)
    runtime_stamp(copy).touch()
    dev_stamp(copy).touch()
    for target in ("demo", "test", "lint"):
        assert "requirements" not in planned(copy, target), target
    with (copy / "requirements-dev.txt").open("a") as extra:
        extra.write("six\n")
    plan = planned(copy, "test")
    assert "-r requirements-dev.txt" in plan and "-r requirements.txt" not in plan
    with (copy / "requirements.txt").open("a") as extra:
        extra.write("six\n")
    assert "-r requirements.txt" in planned(copy, "demo")


def test_uv_comes_from_pypi_into_the_venv_and_pip_is_the_fallback(copy: Path) -> None:
    plan = planned(copy, "demo")
    assert "--target .venv/tools uv" in plan
    assert ".venv/tools/bin/uv pip install --quiet --python .venv/bin/python -r requirements.txt" in plan
    assert "ensurepip" in plan and ".venv/bin/python -m pip install" in plan
