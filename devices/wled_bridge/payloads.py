"""WLED JSON API bodies from frames, and the LED count from ``/json/info``. Pure.

A frame goes to WLED as one POST to ``/json/state``::

    {"on": true, "bri": 51, "seg": {"id": 0, "i": [0, "ff0000", 1, "004000", 2, 8, "000000"]}}

- ``seg.i`` is WLED's per-LED control (since 0.10.2): an index followed by a colour sets
  one LED, two indices ``start, stop`` followed by a colour set ``start`` up to but not
  including ``stop``. Runs of the same colour are sent as ranges, so a 300-LED strip
  showing 5 pods costs a body of about 80 bytes, not 3 kB (WLED's JSON buffer is small,
  on an ESP8266 especially). The whole frame is always sent: a WLED that rebooted or was
  switched off and on shows the right thing at the next frame.
- Indices are relative to segment ``id`` (default 0). Setting ``i`` freezes the segment's
  effect; WLED gamma-corrects these colours itself.
- ``on: true`` because a switched-off WLED shows nothing; ``bri`` (WLED's master
  brightness, 1..255) only when the bridge was given ``--brightness``, so by default the
  brightness chosen in WLED's own app stays in charge.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class WledInfoError(ValueError):
    """A ``/json/info`` answer without a usable LED count."""


def runs(frame: Sequence[str]) -> list[int | str]:
    """``seg.i`` for ``frame``: ``i, colour`` for single LEDs, ``start, stop, colour`` for runs."""
    out: list[int | str] = []
    start = 0
    while start < len(frame):
        stop = start + 1
        while stop < len(frame) and frame[stop] == frame[start]:
            stop += 1
        out += [start, frame[start]] if stop - start == 1 else [start, stop, frame[start]]
        start = stop
    return out


def brightness_level(brightness: float) -> int:
    """0..1 as WLED's ``bri``; never 0, which would switch WLED off."""
    return max(1, min(255, round(brightness * 255)))


def state_body(frame: Sequence[str], *, segment: int, brightness: float | None) -> bytes:
    body: dict[str, Any] = {"on": True}
    if brightness is not None:
        body["bri"] = brightness_level(brightness)
    body["seg"] = {"id": segment, "i": runs(frame)}
    return json.dumps(body, separators=(",", ":")).encode()


def led_count(info: bytes) -> int:
    """``leds.count`` of a ``/json/info`` answer."""
    try:
        count = json.loads(info)["leds"]["count"]
    except (ValueError, KeyError, TypeError) as e:
        raise WledInfoError(f"no leds.count in the answer of /json/info: {info[:80]!r}") from e
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise WledInfoError(f"leds.count of /json/info is not a positive number: {count!r}")
    return count
