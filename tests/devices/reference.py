"""The reference for every device: the agent's own core fed what a device received, when it did.

``check_frames`` walks what a device recorded -- the messages it received (with the time it
received them), the frames it showed, the turns of its render loop -- and replays the
messages through ``bus.ordering`` + ``led_agent.rendering`` (the Python agent's core, as
``bus.intake`` feeds it). At every turn, every node the device shows must show the agent's
frame at that time. So a frame that is wrong, late or never written (a flash that never
clears) fails, and so does one that is right only at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bus.messages import BadMessage, NodeSnapshot, decode_event, decode_snapshot
from bus.ordering import NodeList
from bus.topics import NodeTopic, TopicError, Topics
from led_agent.rendering import RED, Frame, Scene, render

STALE = (b"offline", b"degraded")

# ("message", ms, topic, payload) | ("frame", ms, node, frame) | ("turn", ms)
Event = tuple[object, ...]


def stale_level(now_ms: float) -> float:
    """The contract for a stale node (devices.md): 10 % -> 40 % -> 10 % over 4 s, four steps."""
    phase = (now_ms % 4000) / 4000
    step = round((1 - abs(2 * phase - 1)) * 3) / 3
    return 0.1 + (0.4 - 0.1) * step


def dimmed(frame: Frame, level: float) -> Frame:
    return tuple("".join(f"{round(int(c[i:i + 2], 16) * level):02x}" for i in (0, 2, 4)) for c in frame)


@dataclass
class Reference:
    """The agent's core for one node, fed what a device received, when it received it."""

    node: str
    leds: int
    prefix: str = ""
    model: NodeList = field(default_factory=NodeList)
    scene: Scene = field(default_factory=Scene)
    stale: bool = False
    removals: list[tuple[float, int]] = field(default_factory=list)  # (ms, slot of the flash)

    def take(self, t: float, topic: str, payload: bytes) -> None:
        try:
            parsed = Topics(self.prefix).parse(topic)
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

    def frame(self, t: float) -> Frame:
        frame = render(self.model.entries, self.scene, leds=self.leds, now=t / 1000)
        return dimmed(frame, stale_level(t)) if self.stale else frame


@dataclass
class Checked:
    turns: int  # loop turns compared
    flashes: int  # removals whose red flash the strip showed at the pod's place
    removals: int
    final: Frame | None


def check_frames(events: Iterable[Event], nodes: Sequence[str], *, leds: int, initial: Frame | None = None,
                 prefix: str = "", tie_ms: float = 0) -> dict[str, Checked]:
    """Every turn, every node shown equals the agent's frame at that time (or ``tie_ms`` around
    it: a clock coarser than the arithmetic can land exactly on a phase boundary)."""
    references = {node: Reference(node, leds, prefix=prefix) for node in nodes}
    shown: dict[str, Frame] = {node: initial for node in nodes if initial is not None}
    turns, red_at = 0, {node: set[tuple[float, int]]() for node in nodes}
    for event in events:
        t = float(event[1])  # type: ignore[arg-type]
        if event[0] == "message":
            for reference in references.values():
                payload = event[3]
                assert isinstance(payload, bytes)
                reference.take(t, str(event[2]), payload)
        elif event[0] == "frame" and event[2] in references:
            frame = shown[str(event[2])] = tuple(event[3])  # type: ignore[arg-type]
            red_at[str(event[2])] |= {(t, i) for i, c in enumerate(frame) if c == RED}
        elif event[0] == "turn":
            for node, frame in shown.items():
                expected = {references[node].frame(at) for at in {t - tie_ms, t, t + tie_ms}}
                assert frame in expected, f"{node} at {t} ms shows {frame}, the agent {references[node].frame(t)}"
            turns += 1
    return {node: _checked(reference, red_at[node], turns, shown.get(node)) for node, reference in references.items()}


def _checked(reference: Reference, red_at: set[tuple[float, int]], turns: int, final: Frame | None) -> Checked:
    visible = [(start, slot) for start, slot in reference.removals if slot < reference.leds]
    flashed = sum(1 for start, slot in visible if any(start <= t < start + 150 and i == slot for t, i in red_at))
    return Checked(turns, flashed, len(visible), final)
