"""A recording stand-in for ``gpiod`` 2.x, libgpiod's v2 Python bindings (see gpio_standins.py).

Read from libgpiod's ``bindings/python/gpiod`` (``chip.py``, ``line_request.py``,
``ext/request.c``): ``Chip(path)`` takes a str path (``FileNotFoundError`` for a missing
chip); ``request_lines(path, config, consumer=...)`` with offsets (or tuples of them) →
``LineSettings``, each line once; ``set_values`` on a live request only (else
``RequestReleasedError``), with ``Value`` members (an int has no ``.value``:
``AttributeError``, as in the C extension), only for requested output lines (``EINVAL``,
``EPERM``); a line someone holds is ``OSError(EBUSY)``, and ``get_line_info`` names its
consumer.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Self

from tests.support.gpio_standins import Wire, make_module


class Value(enum.Enum):
    INACTIVE = 0
    ACTIVE = 1


class Direction(enum.Enum):
    AS_IS = 1
    INPUT = 2
    OUTPUT = 3


@dataclasses.dataclass
class LineSettings:
    direction: Direction = Direction.AS_IS
    active_low: bool = False
    output_value: Value = Value.INACTIVE


@dataclasses.dataclass(frozen=True)
class ChipInfo:
    name: str
    label: str
    num_lines: int


@dataclasses.dataclass(frozen=True)
class LineInfo:
    offset: int
    name: str
    used: bool
    consumer: str


class RequestReleasedError(Exception):
    pass


class ChipClosedError(Exception):
    pass


class GpiodStandIn:
    """``chips`` maps each chip's path (a str, as gpiod takes it) to its label."""

    def __init__(self, chips: Mapping[str, str], *, unopenable: Mapping[str, OSError] | None = None,
                 busy: Mapping[int, str] | None = None, v1: bool = False) -> None:
        self.wire = Wire()
        self.calls: Counter[str] = Counter()
        self.chips = dict(chips)
        self.requests: list[LineRequest] = []
        self._unopenable = dict(unopenable or {})
        self._busy = dict(busy or {})
        self._v1 = v1

    def modules(self) -> dict[str, ModuleType | None]:
        line = make_module("gpiod.line", {"Value": Value, "Direction": Direction})
        if self._v1:  # python3-libgpiod 1.6 (apt): no request_lines
            return {"gpiod": make_module("gpiod", {"Chip": object, "LINE_REQ_DIR_OUT": 3, "__version__": "1.6.3"}),
                    "gpiod.line": None}
        stand_in = self

        def Chip(path: str) -> StandInChip:  # noqa: N802  # gpiod.Chip is a class
            stand_in.calls["Chip"] += 1
            return StandInChip(stand_in, path)

        def request_lines(path: str, *args: Any, **kwargs: Any) -> LineRequest:
            stand_in.calls["request_lines"] += 1
            with Chip(path) as chip:
                return chip.request_lines(*args, **kwargs)

        names = {"Chip": Chip, "request_lines": request_lines, "LineSettings": LineSettings, "line": line,
                 "RequestReleasedError": RequestReleasedError, "ChipClosedError": ChipClosedError,
                 "ChipInfo": ChipInfo, "LineInfo": LineInfo, "__version__": "2.2.0", "api_version": "2.2.0"}
        return {"gpiod": make_module("gpiod", names), "gpiod.line": line}

    @property
    def held(self) -> set[int]:
        return {offset for request in self.requests if request.live for offset in request.offsets}

    def open(self, path: str) -> str:
        if not isinstance(path, str):
            raise TypeError(f"argument 1 must be str, not {type(path).__name__}")
        if path in self._unopenable:
            raise self._unopenable[path]
        if path not in self.chips:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return self.chips[path]

    def line_info(self, offset: int) -> LineInfo:
        if offset in self._busy:
            return LineInfo(offset, f"GPIO{offset}", True, self._busy[offset])
        held = offset in self.held
        return LineInfo(offset, f"GPIO{offset}", held, "shinealight-blinkt" if held else "")

    def request(self, path: str, config: Mapping[Any, LineSettings | None], consumer: str | None,
                output_values: Mapping[int, Value] | None) -> LineRequest:
        settings: dict[int, LineSettings] = {}
        for lines, line_settings in config.items():
            for offset in (lines,) if isinstance(lines, int | str) else tuple(lines):
                if not isinstance(offset, int) or not 0 <= offset < 54:
                    raise ValueError("line offset of out range")
                if offset in settings:
                    raise ValueError(f"line must be configured exactly once - offset {offset} repeats")
                settings[offset] = line_settings or LineSettings()
        if set(settings) & (set(self._busy) | self.held):
            raise OSError(errno.EBUSY, "Device or resource busy")
        request = LineRequest(self, path, settings)
        for offset, line_settings in settings.items():
            if line_settings.direction is Direction.OUTPUT:
                value = (output_values or {}).get(offset, line_settings.output_value)
                self.wire.set({offset: value.value})
        self.requests.append(request)
        return request


class Closable:
    """A gpiod object usable until it is closed (a chip) or released (a request); a context manager."""

    closed_error: type[Exception] = ChipClosedError

    def __init__(self) -> None:
        self.live = True

    def __enter__(self) -> Self:
        self._check()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end()

    def _end(self) -> None:
        self._check()
        self.live = False

    def _check(self) -> None:
        if not self.live:
            raise self.closed_error()


class StandInChip(Closable):
    def __init__(self, stand_in: GpiodStandIn, path: str) -> None:
        super().__init__()
        self._stand_in = stand_in
        self._label = stand_in.open(path)
        self._path = path

    def close(self) -> None:
        self._end()

    def get_info(self) -> ChipInfo:
        self._check()
        return ChipInfo(Path(self._path).name, self._label, 54)

    def get_line_info(self, line: int | str) -> LineInfo:
        self._check()
        return self._stand_in.line_info(int(line))

    def request_lines(self, config: Mapping[Any, LineSettings | None], consumer: str | None = None,
                      event_buffer_size: int | None = None,
                      output_values: Mapping[int, Value] | None = None) -> LineRequest:
        self._check()
        self._stand_in.calls["Chip.request_lines"] += 1
        return self._stand_in.request(self._path, config, consumer, output_values)


class LineRequest(Closable):
    closed_error = RequestReleasedError

    def __init__(self, stand_in: GpiodStandIn, path: str, settings: Mapping[int, LineSettings]) -> None:
        super().__init__()
        self._stand_in = stand_in
        self.chip_name = Path(path).name
        self.offsets = list(settings)
        self._settings = dict(settings)

    def release(self) -> None:
        self._stand_in.calls["release"] += 1
        self._end()

    def set_value(self, line: int, value: Value) -> None:
        self.set_values({line: value})

    def set_values(self, values: dict[int, Value]) -> None:
        self._check()
        self._stand_in.calls["set_values"] += 1
        changes = {}
        for offset, value in values.items():
            if offset not in self._settings:
                raise OSError(errno.EINVAL, "Invalid argument")
            if self._settings[offset].direction is not Direction.OUTPUT:
                raise OSError(errno.EPERM, "Operation not permitted")
            if not isinstance(value, Value):
                raise AttributeError(f"'{type(value).__name__}' object has no attribute 'value'")
            changes[offset] = value.value
        self._stand_in.wire.set(changes)
