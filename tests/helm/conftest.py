"""The session's Helm: ``helm/tools/ensure-helm`` installs it on first use.

It puts helm-python-sdk into ``helm/.venv`` (about 20 s the first time, a 75 MB wheel
from PyPI) and prints the ``minihelm`` launcher; later runs take milliseconds. If it
cannot (no Python >= 3.10 with venv, no PyPI), the session fails with its message: a
chart suite that silently skips would prove nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helm.charts import ENSURE_HELM, Helm


@pytest.fixture(scope="session")
def helm() -> Iterator[Helm]:
    try:
        result = subprocess.run([str(ENSURE_HELM)], capture_output=True, text=True, timeout=600, check=False)
    except OSError as e:
        pytest.fail(f"cannot run {ENSURE_HELM}: {e}")
    if result.returncode != 0:
        pytest.fail(f"{ENSURE_HELM} failed (exit {result.returncode}); the chart tests need it:\n{result.stderr}")
    entry = Path(result.stdout.strip().splitlines()[-1])
    assert entry.is_file(), f"ensure-helm printed {entry!r}, which is not a file"
    yield Helm(entry)
