"""Command-line pieces every ``python -m`` entry point shares.

One-line usage errors with exit code 2 (the usage is one ``--help`` away), and argparse
``type`` functions for numbers and for the contract's names (node, agent id, prefix), so
a bad value is reported the same way by the watcher, the agent, the bus tools and the
demo.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

from bus.redaction import redact
from bus.topics import TopicError


class UsageParser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2; the error never shows a password."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {redact(message)} (see --help)\n")


def number(minimum: float, *, strict: bool, kind: type[float] | type[int] = float,
           maximum: float | None = None) -> Callable[[str], float]:
    """A finite number ≥ ``minimum`` (> with ``strict``) and ≤ ``maximum``, as ``kind``."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
        if maximum is not None and not (minimum <= value <= maximum and (not strict or value > minimum)):
            raise argparse.ArgumentTypeError(f"must be between {minimum:g} and {maximum:g}: {text!r}")
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum:g}: {text!r}")
        return value

    return parse


def positive(kind: type[float] | type[int] = float) -> Callable[[str], float]:
    return number(0, strict=True, kind=kind)


def validated(check: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse ``type`` from one of bus.topics' validators."""

    def parse(text: str) -> str:
        try:
            return check(text)
        except TopicError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse
