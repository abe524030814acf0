"""The ESP32 subscriber run whole under MicroPython: scenarios, what the board did, the reference.

A :class:`Scenario` is what the board's world does (``board/board.py``): retained messages
before it boots, messages at given times (a capture's, by default), connections cut,
outages, memory limits. :func:`run_board` runs the unmodified ``main.py`` + ``ledlist.py``
in it and returns the record. :func:`check_against_agent` replays the messages the board
received, at the times it received them, through the agent's own core (``bus.ordering``
+ ``led_agent.rendering``: the reference) and requires the strip to show the reference
frame at every turn of the board's loop -- every sleep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bus.captures import Capture
from bus.messages import BadMessage, NodeSnapshot, decode_event, decode_snapshot
from bus.ordering import NodeList
from bus.topics import NodeTopic, TopicError, Topics
from led_agent.rendering import RED, Frame, Scene, render
from tests.devices.micropython import board_files, device_files, run_micropython
from tests.support.streams import opening

START_MS = 1000  # the board boots at 0; the capture's first message after the opening comes then
SETTLE_MS = 3000  # after the last message: flashes end, gaps close
LEDS = 8
STALE = (b"offline", b"degraded")

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


def stale_level(now_ms: int) -> float:
    """The contract for a stale node (devices.md): 10 % -> 40 % -> 10 % over 4 s, four steps."""
    phase = (now_ms % 4000) / 4000
    step = round((1 - abs(2 * phase - 1)) * 3) / 3
    return 0.1 + (0.4 - 0.1) * step


def dimmed(frame: Frame, level: float) -> Frame:
    return tuple("".join(f"{round(int(c[i:i + 2], 16) * level):02x}" for i in (0, 2, 4)) for c in frame)


@dataclass
class Reference:
    """The agent's core fed what the board received, when it received it."""

    node: str
    leds: int
    model: NodeList = field(default_factory=NodeList)
    scene: Scene = field(default_factory=Scene)
    stale: bool = False
    removals: list[tuple[int, int]] = field(default_factory=list)  # (ms, slot of the flash)

    def take(self, t: int, topic: str, payload: bytes) -> None:
        try:
            parsed = Topics().parse(topic)
        except TopicError:
            return
        if parsed.node != self.node:
            return
        if parsed.kind is NodeTopic.STATUS:
            self.stale = payload in STALE if payload in (*STALE, b"online", b"") else self.stale
            return
        try:
            message = decode_event(payload) if parsed.kind is NodeTopic.PODS else decode_snapshot(payload)
        except BadMessage:
            return  # an empty snapshot payload (a cleared topic) included: keep what is shown
        if message.node not in (None, self.node):
            return  # as bus.intake: wrong_node
        if isinstance(message, NodeSnapshot):
            outcome = self.model.apply_snapshot(message)
        else:
            outcome = self.model.apply_event(message)
        if outcome.changes:
            before = [i for i, slot in enumerate(self.scene.visible(t / 1000)) if slot is None]
            self.removals += [(t, before[index]) for index, _ in outcome.changes.removed if index < len(before)]
            self.scene.apply(outcome.changes, live_count=len(self.model.entries), now=t / 1000)

    def frame(self, t: int) -> Frame:
        frame = render(self.model.entries, self.scene, leds=self.leds, now=t / 1000)
        return dimmed(frame, stale_level(t)) if self.stale else frame


@dataclass
class Checked:
    turns: int  # loop turns compared
    flashes: int  # removals whose red flash the strip showed at the pod's place
    removals: int
    final: Frame


def check_against_agent(run: BoardRun, node: str, leds: int = LEDS) -> Checked:
    """At every sleep of the board, the strip shows what the agent's core shows at that time."""
    reference, shown = Reference(node, leds), ("000000",) * leds
    turns, red_at = 0, set()
    for record in run.records:
        kind, t = record[0], record[1]
        if kind == "message":
            reference.take(t, record[2], bytes.fromhex(record[3]))
        elif kind == "show":
            shown = tuple(record[2])
            red_at |= {(t, i) for i, c in enumerate(shown) if c == RED}
        elif kind == "sleep":
            expected = reference.frame(t)
            assert shown == expected, f"at {t} ms the strip shows {shown}, the agent {expected}"
            turns += 1
    visible = [(start, slot) for start, slot in reference.removals if slot < leds]
    flashed = sum(1 for start, slot in visible if any(start <= t < start + 150 and i == slot for t, i in red_at))
    return Checked(turns, flashed, len(visible), shown)
