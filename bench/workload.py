"""The pods and colours the benchmarks use."""

from __future__ import annotations

from typing import Any

from sim.pods import make_pod


def color_of(k: int) -> str:
    """A distinct colour per event number, never dark, never the v1/v2 colours."""
    return f"{0x200000 + k:06x}"


def show_pod(name: str, node: str, color: str) -> dict[str, Any]:
    return make_pod(name, node=node, labels={"app": "bench", "blinkt": "show", "blinktColor": color})
