"""Where things are: the repository, the captures, the test artefacts."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "captures"
ARTIFACTS = ROOT / "tests" / "artifacts"
