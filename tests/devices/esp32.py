"""The ESP32 subscriber run whole under MicroPython: scenarios, what the board did, the reference.

A :class:`Scenario` is what the board's world does (``board/board.py``): retained messages
before it boots, messages at given times (a capture's, by default), connections cut,
outages, memory limits. :func:`run_board` runs the unmodified ``main.py`` + ``ledlist.py``
in it and returns the record. :func:`check_against_agent` requires the strip to show the
agent's frame (``tests/devices/reference.py``) at every turn of the board's loop -- every sleep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bus.captures import Capture
from led_agent.rendering import Frame
from tests.devices.micropython import board_files, device_files, run_micropython
from tests.devices.reference import Checked, Event, check_frames
from tests.support.streams import opening

START_MS = 1000  # the board boots at 0; the capture's first message after the opening comes then
SETTLE_MS = 3000  # after the last message: flashes end, gaps close
LEDS = 8

Record = list[Any]


@dataclass
class Scenario:
    node: str
    retained: list[tuple[str, bytes]] = field(default_factory=list)
    schedule: list[tuple[int, str, bytes, bool]] = field(default_factory=list)  # (ms, topic, payload, retain)
    end_ms: int = START_MS + SETTLE_MS
    cuts: list[int] = field(default_factory=list)  # times the live connection dies
    outages: list[tuple[int, int]] = field(default_factory=list)  # [from, to): connections refused
    read_limit: int | None = None  # umqtt cannot allocate a payload longer than this
    decode_limit: int | None = None  # json cannot decode a text longer than this
    suback_delay: int = 0  # ms the broker holds SUBACKs back

    def spec(self) -> dict[str, Any]:
        return {
            "retained": [[topic, payload.hex()] for topic, payload in self.retained],
            "schedule": [[t, topic, payload.hex(), retain] for t, topic, payload, retain in self.schedule],
            "end_ms": self.end_ms, "cuts": self.cuts, "outages": [list(o) for o in self.outages],
            "read_limit": self.read_limit, "decode_limit": self.decode_limit, "suback_delay": self.suback_delay,
        }

    def at(self, t: int, topic: str, payload: bytes | dict[str, Any], *, retain: bool = False) -> Scenario:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.schedule.append((t, topic, data, retain))
        self.schedule.sort(key=lambda item: item[0])
        self.end_ms = max(self.end_ms, t + SETTLE_MS)
        return self


def from_capture(capture: Capture, node: str) -> Scenario:
    """The capture's opening is retained before the board boots; the rest follows at its pace."""
    count = opening(capture)
    head, rest = capture.messages[:count], capture.messages[count:]
    base = head[-1].offset if head else 0.0
    schedule = [(START_MS + round((m.offset - base) * 1000), m.topic, m.payload, m.retain) for m in rest]
    end = (schedule[-1][0] if schedule else START_MS) + SETTLE_MS
    return Scenario(node, [(m.topic, m.payload) for m in head if m.retain], schedule, end)


@dataclass
class BoardRun:
    records: list[Record]
    console: list[str]  # what main.py printed

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r[0] == kind]

    @property
    def frames(self) -> list[Frame]:
        return [tuple(r[2]) for r in self.of("show")]


def run_board(scenario: Scenario, **settings: Any) -> BoardRun:
    files = board_files() | device_files(**{"NODE": scenario.node, "BRIGHTNESS": 1.0, "LEDS": LEDS} | settings)
    files["/scenario.json"] = json.dumps(scenario.spec())
    boot = "import board\nboard.load('/scenario.json')\ntry:\n    import main\nexcept SystemExit:\n    pass\n"
    run = run_micropython(files, [boot])
    records = [json.loads(line[2:]) for line in run.lines if line.startswith("@@")]
    console = [line for line in run.lines if not line.startswith("@@")]
    assert run.returncode == 0, f"MicroPython failed: {run.stderr}\n" + "\n".join(console[-10:])
    assert records and records[-1][0] == "end", "the run did not reach its end"
    return BoardRun(records, console)


def check_against_agent(run: BoardRun, node: str, leds: int = LEDS) -> Checked:
    """At every sleep of the board, the strip shows what the agent's core shows at that time."""
    events: list[Event] = []
    for record in run.records:
        if record[0] == "message":
            events.append(("message", record[1], record[2], bytes.fromhex(record[3])))
        elif record[0] == "show":
            events.append(("frame", record[1], node, tuple(record[2])))
        elif record[0] == "sleep":
            events.append(("turn", record[1]))
    return check_frames(events, [node], leds=leds, initial=("000000",) * leds)[node]
