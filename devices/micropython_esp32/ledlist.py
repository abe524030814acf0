"""One node's pods on a microcontroller: bus messages in, LED frames out. Pure.

The same rules as the Python agent (``bus/ordering.py`` and
``led_agent/rendering.py``), rewritten for MicroPython on an ESP32, so a strip on a
microcontroller shows exactly what a Blinkt! on a Pi shows:

- an event with ``seq == last + 1`` is applied; ``seq <= last`` is ignored; a larger
  ``seq`` is a gap: applied, and :meth:`NodeView.handle` returns True so the caller
  re-subscribes to ``nodes/<node>/state`` (the broker then re-sends the retained snapshot);
- a snapshot with ``seq >= last`` (or a new ``epoch``) is taken and reconciled; events
  that came before the first snapshot and are newer than it are replayed on top of it;
- a message of a new ``epoch`` (a restarted watcher) forgets ``last``;
- events without ``seq`` are applied as they come; applying is idempotent;
- bad input is counted per kind in :attr:`NodeView.bad` and changes nothing.

Frames: LED *i* shows pod *i*; a removed pod flashes red three times (0.9 s) in its
place, then the pods after it move up; pending pods are dimmed to 25 %, unready ones
pulse, terminating ones blink at 2 Hz; with more pods than LEDs the last LED alternates
with white once a second. While the node's watcher is ``offline`` or ``degraded``
(``nodes/<node>/status``) the whole frame is *stale*: dimmed, breathing slowly between
10 % and 40 % over four seconds, until the watcher is ``online`` again. Colours are
``(r, g, b)`` tuples; brightness is the caller's.

Memory (an ESP32 without PSRAM has ~110-160 KB of Python heap): a pod is held as
``(key, color, state)`` -- the colour a small int, the state one of the interned
:data:`STATES` -- about 100 bytes; at most ``limit`` pods are tracked (the rest of a
snapshot is counted in :attr:`NodeView.untracked` and shown as overflow), and a
``MemoryError`` while decoding drops that one message, counted as ``no_memory``.

Written in the subset both CPython and MicroPython run: no ``typing`` import, no
dataclasses, no ``str.removeprefix``, no reliance on dict order (MicroPython's dicts
are unordered), annotations only on functions (MicroPython ignores them). Time is
integer milliseconds from a monotonic counter the caller keeps: ESP32 floats are single
precision, too coarse for absolute seconds after a day of uptime.
"""

import json

DEFAULT_COLOR = "0000ff"
MAX_PAYLOAD = 64 * 1024
JOURNAL_LIMIT = 32
MAX_PODS = 200
ACTIONS = ("add", "update", "remove")
STATES = ("pending", "ready", "unready", "terminating")
STATUSES = {b"online": False, b"offline": True, b"degraded": True, b"": False}  # -> stale
HEX = "0123456789abcdef"

RED = (255, 0, 0)
WHITE = (255, 255, 255)
DARK = (0, 0, 0)
FLASH_HALF_MS = 150
FLASH_MS = 3 * 2 * FLASH_HALF_MS
BLINK_PERIOD_MS = 500  # terminating: 2 Hz
OVERFLOW_PERIOD_MS = 1000
PENDING_LEVEL = 0.25
PULSE_PERIOD_MS = 2000
PULSE_STEPS = 8
PULSE_FLOOR = 0.25
STALE_PERIOD_MS = 4000
STALE_STEPS = 4
STALE_FLOOR = 0.1
STALE_TOP = 0.4

APPLIED, GAP, NEW_EPOCH, UNSEQUENCED, DUPLICATE, STALE = (
    "applied", "gap", "new_epoch", "unsequenced", "duplicate", "stale")
IGNORED = (DUPLICATE, STALE)


class BadInput(ValueError):
    """A message that is not a valid v1 message; ``kind`` is the counter's label."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(kind + ": " + detail)
        self.kind = kind


# -- decoding -------------------------------------------------------------------------


def normalize_color(value: object) -> str | None:
    """``#A81399`` -> ``a81399``, ``#FFF`` -> ``ffffff``; anything else -> None."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text.startswith("#"):
        text = text[1:]
    if len(text) not in (3, 6) or any(c not in HEX for c in text):
        return None
    return text if len(text) == 6 else "".join(c + c for c in text)


def decode(payload: bytes) -> dict:
    if len(payload) > MAX_PAYLOAD:
        raise BadInput("oversized", str(len(payload)) + " bytes")
    try:
        text = payload.decode("utf-8")
    except UnicodeError:
        raise BadInput("not_utf8", "payload is not UTF-8") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise BadInput("not_json", text[:40]) from None
    if not isinstance(data, dict):
        raise BadInput("not_object", "expected a JSON object")
    version = data.get("v", 1)
    if version != 1 or isinstance(version, bool):
        raise BadInput("unknown_version", "v=" + repr(version))
    return data


def _text(data: dict, name: str, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 253:
        raise BadInput("invalid", name + ": expected a non-empty string")
    return value


def _seq(data: dict, required: bool = False) -> int | None:
    value = data.get("seq")
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadInput("invalid", "seq: expected a whole number >= 0")
    return value


def color_value(text: str | None) -> int | None:
    """``"a81399"`` -> ``0xa81399``: a small int costs no heap on MicroPython, a str ~32 bytes."""
    return None if text is None else int(text, 16)


def _interned(state: object) -> str | None:
    """The state as the constant in :data:`STATES` (one copy for all pods, not one per pod)."""
    for known in STATES:
        if state == known:
            return known
    if state is not None:
        raise BadInput("invalid", "state: " + repr(state))
    return None


def parse_pod(data: object) -> tuple:
    """A pod as ``(key, color or None, state or None)``; identity as in the contract."""
    if not isinstance(data, dict):
        raise BadInput("invalid", "pods: expected objects")
    name = _text(data, "pod", True)
    namespace, uid = _text(data, "namespace"), _text(data, "uid")
    state = _interned(data.get("state"))
    if data.get("ts") is not None and not isinstance(data.get("ts"), str):
        raise BadInput("invalid", "ts: expected a string")
    key = uid or (namespace + "/" + name if namespace else name)
    return (key, color_value(normalize_color(data.get("color"))), state)


def parse_event(payload: bytes) -> tuple:
    """``(action, pod, seq, epoch, node)`` of a pod event."""
    data = decode(payload)
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise BadInput("unknown_action", "action=" + repr(action))
    return (action, parse_pod(data), _seq(data), _text(data, "epoch"), _text(data, "node"))


def parse_snapshot(payload: bytes) -> tuple:
    """``(node, seq, epoch, pods)`` of a snapshot."""
    data = decode(payload)
    pods = data.get("pods", [])
    if not isinstance(pods, list):
        raise BadInput("invalid", "pods: expected a list")
    if data.get("ts") is not None and not isinstance(data.get("ts"), str):
        raise BadInput("invalid", "ts: expected a string")
    node, seq, epoch = _text(data, "node", True), _seq(data, True), _text(data, "epoch")
    return (node, seq, epoch, [parse_pod(p) for p in pods])


# -- colours --------------------------------------------------------------------------


def rgb(color: int | str) -> tuple:
    """``0xRRGGBB`` or ``"rrggbb"`` as ``(r, g, b)``."""
    value = int(color, 16) if isinstance(color, str) else color
    return ((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF)


def scale(color: tuple, level: float) -> tuple:
    return (round(color[0] * level), round(color[1] * level), round(color[2] * level))


def _triangle(now_ms: float, period: int, steps: int) -> float:
    """0 -> 1 -> 0 over ``period`` ms, quantised to ``steps`` levels."""
    phase = (now_ms % period) / period
    return round((1 - abs(2 * phase - 1)) * (steps - 1)) / (steps - 1)


def pulse_level(now_ms: float) -> float:
    """Triangle wave 25 % -> 100 % -> 25 % over two seconds, in eight steps."""
    return PULSE_FLOOR + (1 - PULSE_FLOOR) * _triangle(now_ms, PULSE_PERIOD_MS, PULSE_STEPS)


def stale_level(now_ms: float) -> float:
    """A slow breath 10 % -> 40 % -> 10 % over four seconds, in four steps: the watcher is away."""
    return STALE_FLOOR + (STALE_TOP - STALE_FLOOR) * _triangle(now_ms, STALE_PERIOD_MS, STALE_STEPS)


def pod_color(pod: tuple, now_ms: float) -> tuple:
    color, state = rgb(DEFAULT_COLOR if pod[1] is None else pod[1]), pod[2]
    if state == "pending":
        return scale(color, PENDING_LEVEL)
    if state == "unready":
        return scale(color, pulse_level(now_ms))
    if state == "terminating" and now_ms % BLINK_PERIOD_MS >= BLINK_PERIOD_MS / 2:
        return DARK
    return color


def ghost_color(started: float, now_ms: float) -> tuple:
    return RED if int((now_ms - started) // FLASH_HALF_MS) % 2 == 0 else DARK


# -- the node -------------------------------------------------------------------------


class NodeView:
    """The ordered pods of one node, with their removal flashes ("ghosts") in place.

    ``slots`` holds ``None`` for "the next pod of the list" and ``[key, started_ms]`` for
    a flashing ghost; the number of ``None`` slots always equals ``len(pods)``.
    """

    def __init__(self, node: str, leds: int, limit: int = MAX_PODS) -> None:
        self.node = node
        self.leds = leds
        self.limit = limit
        self.untracked = 0  # pods the publisher listed beyond ``limit``
        self.stale = False  # the watcher is offline or degraded
        self.pods = []
        self.slots = []
        self.last = None
        self.epoch = None
        self.synced = False
        self.journal = []
        self.bad = {}
        self.changed = True  # the caller sets it to False after writing a frame

    def keys(self) -> list:
        return [p[0] for p in self.pods]

    def handle(self, kind: str, payload: bytes, now_ms: float) -> bool:
        """Take the payload of ``nodes/<node>/<kind>``; True means: resync from the snapshot."""
        try:
            if kind == "pods":
                return self.apply_event(parse_event(payload), now_ms) == GAP
            if kind == "state" and payload:  # empty: a cleared retained topic, keep what is shown
                self.apply_snapshot(parse_snapshot(payload), now_ms)
            elif kind == "status":
                self.apply_status(payload)
        except BadInput as e:
            self.count(e.kind)
        except MemoryError:  # a message too big for this heap: drop it, keep what is shown
            self.count("no_memory")
        return False

    def count(self, kind: str) -> None:
        self.bad[kind] = self.bad.get(kind, 0) + 1

    def apply_status(self, payload: bytes) -> None:
        """``offline`` / ``degraded``: stale until ``online`` (or a cleared topic)."""
        if payload not in STATUSES:
            raise BadInput("bad_status", repr(payload[:40]))
        if STATUSES[payload] != self.stale:
            self.stale = STATUSES[payload]
            self.changed = True

    def apply_event(self, event: tuple, now_ms: float) -> str:
        action, pod, seq, epoch, node = event
        if node is not None and node != self.node:
            raise BadInput("wrong_node", "event for node " + node)
        verdict = self._judge(seq, epoch)
        if verdict in IGNORED:
            return verdict
        if seq is not None:
            self.last = seq
            if not self.synced:
                self.journal.append(event)
                if len(self.journal) > JOURNAL_LIMIT:
                    self.journal.pop(0)
        if epoch is not None:
            self.epoch = epoch
        removed = self._mutate(action, pod)
        if removed >= 0:
            live = [i for i, slot in enumerate(self.slots) if slot is None]
            self.slots[live[removed]] = [pod[0], now_ms]
        self._fit()
        return verdict

    def _judge(self, seq: int | None, epoch: str | None) -> str:
        if seq is None:
            return UNSEQUENCED
        if self.last is None:
            return APPLIED
        if epoch is not None and epoch != self.epoch:
            return NEW_EPOCH
        if seq == self.last + 1:
            return APPLIED
        return DUPLICATE if seq <= self.last else GAP

    def _mutate(self, action: str, pod: tuple) -> int:
        """Apply to the list (idempotent); return the old index of a removed pod, else -1."""
        index = -1
        for i, known in enumerate(self.pods):
            if known[0] == pod[0]:
                index = i
        if action == "remove":
            if index >= 0:
                del self.pods[index]
                self.changed = True
            elif self.untracked:
                self.untracked -= 1  # most likely one of those beyond the limit
            return index
        if index < 0 and len(self.pods) >= self.limit:
            self.untracked += 1
            return -1
        if index < 0:
            self.pods.append(pod)
        elif self.pods[index] == pod:
            return -1
        else:
            self.pods[index] = pod  # a known pod keeps its place
        self.changed = True
        return -1

    def apply_snapshot(self, snapshot: tuple, now_ms: float) -> str:
        node, seq, epoch, pods = snapshot
        if node != self.node:
            raise BadInput("wrong_node", "snapshot of node " + node)
        new_epoch = epoch is not None and epoch != self.epoch
        if self.synced and not new_epoch and self.last is not None and seq < self.last:
            return STALE
        before = self.pods
        self.pods, seen = [], set()
        for pod in pods:
            if pod[0] not in seen:  # a garbage duplicate keeps its first place
                seen.add(pod[0])
                self.pods.append(pod)
        self.untracked = max(0, len(self.pods) - self.limit)
        del self.pods[self.limit:]
        self.last = seq
        if epoch is not None:
            self.epoch = epoch
        if not self.synced:
            self._replay(seq)
        self._reconcile(before, now_ms)
        return APPLIED

    def _replay(self, seq: int) -> None:
        """First snapshot: re-apply the events we already had that are newer than it."""
        self.synced = True
        for action, pod, event_seq, epoch, _node in self.journal:
            if event_seq > seq and epoch in (None, self.epoch):
                self._mutate(action, pod)
                self.last = event_seq
        self.journal = []

    def _reconcile(self, before: list, now_ms: float) -> None:
        """Vanished pods become ghosts where they stood (their index in the old list)."""
        keys = set(self.keys())
        live = [i for i, slot in enumerate(self.slots) if slot is None]
        for index, pod in enumerate(before):
            if pod[0] not in keys:
                self.slots[live[index]] = [pod[0], now_ms]
        self._fit()
        self.changed = True

    def _fit(self) -> None:
        """Append live slots for added pods. Removals never leave more live slots than pods:
        each one turns exactly its own live slot into a ghost."""
        live_count = sum(1 for slot in self.slots if slot is None)
        self.slots.extend([None] * (len(self.pods) - live_count))

    # -- frames -----------------------------------------------------------------------

    def _visible(self, now_ms: float) -> list:
        self.slots = [s for s in self.slots if s is None or now_ms < s[1] + FLASH_MS]
        return self.slots

    def frame(self, now_ms: float) -> list:
        """Exactly ``leds`` colours at ``now_ms`` (and forget finished flashes)."""
        colors, shown = [], 0
        for slot in self._visible(now_ms):
            if slot is not None:
                colors.append(ghost_color(slot[1], now_ms))
            elif shown < len(self.pods):
                colors.append(pod_color(self.pods[shown], now_ms))
                shown += 1
        if self._overflowing(len(colors)) and now_ms % OVERFLOW_PERIOD_MS >= OVERFLOW_PERIOD_MS / 2:
            colors[self.leds - 1] = WHITE
        colors = colors[: self.leds] + [DARK] * max(0, self.leds - len(colors))
        if self.stale:
            level = stale_level(now_ms)
            colors = [scale(c, level) for c in colors]
        return colors

    def _overflowing(self, count: int) -> bool:
        return count > self.leds or (self.untracked > 0 and count >= self.leds)

    def animated(self, now_ms: float) -> bool:
        """Whether the frame changes with time alone (else the caller may sleep)."""
        slots = self._visible(now_ms)
        if self.stale or any(s is not None for s in slots) or self._overflowing(max(len(slots), len(self.pods))):
            return True
        return any(p[2] in ("unready", "terminating") for p in self.pods[: self.leds])
