"""Replay a capture: the original timing scaled by ``speed``, once or in a loop.

The core (:func:`replay`, :func:`pass_messages`, :func:`with_pass_epoch`) is pure: it
hands messages to an injected ``publish`` at times read from an injected ``clock`` and
waits through an injected ``sleep``, so the timing is tested with a fake clock.
:func:`replay_to_broker` is the thin adapter onto :class:`bus.connection.BusConnection`.

Timing. Offsets are rebased to the capture's first message (no dead time before it)
and scheduled against the pass's start, not the previous message, so a slow publish
never accumulates drift: a late message goes out at once and the next one is on time
again. ``speed`` 2 plays twice as fast; ``speed`` 0 does not wait at all.

Looping. Subscribers keep a per-node ``seq`` and ignore what is not newer, so pass 2 of
a naive loop would be ignored. The contract's ``epoch`` fixes that: a subscriber that
sees a new epoch forgets its seq (events) and takes the snapshot whatever its seq
(snapshots). From pass 2 on, every JSON object payload on ``…nodes/<node>/pods`` and
``…nodes/<node>/state`` gets ``epoch`` = its original epoch (or ``replay``) +
``-pass<N>``; every other payload is published byte-identical, and pass 1 is published
exactly as recorded. Distinct epochs inside one capture (a watcher restarted during the
recording) stay distinct.

Restoring the first moment at the start of each pass. A capture starts with the
retained messages the broker delivered at subscribe time: the state of the world when
recording began. Each pass republishes them first, retained, with the pass's new
epoch, so every subscriber reconciles back to that state (the new epoch makes it take
the older snapshot) and the broker's retained state is that of the first moment again.
What this cannot undo by itself are retained topics that only appeared *during* the
recording (a node that joined): at the end of a pass the broker still holds them. So
from pass 2 on, each such topic first gets an empty retained payload (the contract's
"clear"), exactly as it did not exist when recording began. "The opening state" is
the leading run of retained messages, up to the first non-retained one; a capture made
only of retained messages therefore clears nothing. With ``retain=False`` nothing is
retained and nothing is cleared.

Errors. A malformed capture is rejected before this module sees it
(:mod:`bus.captures`). A broker that cannot be reached within ``connect_timeout``
raises :class:`bus.connection.BrokerUnavailable`. A broker lost during the replay
pauses it until the connection is back; QoS 1/2 publishes not confirmed by the end
(``drain_timeout``) are counted in :attr:`ReplayStats.unconfirmed`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from paho.mqtt.client import MQTTMessageInfo

from bus.captures import Capture, CapturedMessage
from bus.connection import BrokerUnavailable, BusConnection
from bus.topics import validate_prefix
from bus.urls import BrokerAddress

log = logging.getLogger(__name__)

Publish = Callable[[CapturedMessage], None]
Clock = Callable[[], float]
Sleep = Callable[[float], object]

EPOCH_KINDS = frozenset({"pods", "state"})
DEFAULT_EPOCH = "replay"


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay. ``passes`` caps a loop (None: forever); ``loop_gap`` is real seconds between passes."""

    speed: float = 1.0
    loop: bool = False
    passes: int | None = None
    loop_gap: float = 1.0
    topic_prefix: str = ""
    retain: bool = True

    def __post_init__(self) -> None:
        if self.speed < 0 or self.loop_gap < 0:
            raise ValueError("speed and loop_gap must be >= 0")
        if self.passes is not None and self.passes < 1:
            raise ValueError("passes must be >= 1")
        validate_prefix(self.topic_prefix)

    @property
    def total_passes(self) -> int | None:
        return (self.passes if self.loop else 1) or None


@dataclass
class ReplayStats:
    published: int = 0
    passes: int = 0
    stopped: bool = False
    unconfirmed: int = 0


# -- pure core -----------------------------------------------------------------------


def is_epoch_topic(topic: str) -> bool:
    """``…nodes/<node>/pods`` or ``…nodes/<node>/state``, under any prefix."""
    levels = topic.split("/")
    return len(levels) >= 3 and levels[-3] == "nodes" and levels[-1] in EPOCH_KINDS


def with_pass_epoch(topic: str, payload: bytes, number: int) -> bytes:
    """The payload for pass ``number``: a fresh epoch on node events/snapshots, else unchanged."""
    if number == 1 or not is_epoch_topic(topic):
        return payload
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return payload  # not ours to repair: bad input is replayed as recorded
    if not isinstance(data, dict):
        return payload
    epoch = data.get("epoch")
    data["epoch"] = f"{epoch if isinstance(epoch, str) else DEFAULT_EPOCH}-pass{number}"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def opening_topics(capture: Capture) -> set[str]:
    """Topics of the leading run of retained messages: the retained state when recording began."""
    opening: set[str] = set()
    for message in capture.messages:
        if not message.retain:
            break
        opening.add(message.topic)
    return opening


def later_retained_topics(capture: Capture) -> list[str]:
    """Retained topics that did not exist when recording began, in order of appearance."""
    opening = opening_topics(capture)
    later = (m.topic for m in capture.messages if m.retain and m.topic not in opening)
    return list(dict.fromkeys(later))


def pass_messages(capture: Capture, number: int, options: ReplayOptions) -> list[CapturedMessage]:
    """What pass ``number`` (1-based) publishes, offsets rebased to the first message."""
    if not capture.messages:
        return []
    base = capture.messages[0].offset
    prefix = options.topic_prefix
    clears = later_retained_topics(capture) if number > 1 and options.retain else []
    restored = [CapturedMessage(0.0, prefix + topic, b"", retain=True, qos=1) for topic in clears]
    return restored + [
        replace(m, offset=m.offset - base, topic=prefix + m.topic, payload=with_pass_epoch(m.topic, m.payload, number),
                retain=m.retain and options.retain)
        for m in capture.messages
    ]


def replay(
    capture: Capture,
    publish: Publish,
    *,
    options: ReplayOptions | None = None,
    stop: threading.Event | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep | None = None,
) -> ReplayStats:
    """Publish the capture with its timing; return when done or when ``stop`` is set."""
    options = options or ReplayOptions()
    stop = stop or threading.Event()
    sleep = sleep or stop.wait  # a real wait that a stop cuts short
    stats = ReplayStats()
    number = 0
    while capture.messages and not stop.is_set():
        number += 1
        stats.passes = number
        messages = pass_messages(capture, number, options)
        if not _play_pass(messages, publish, speed=options.speed, stop=stop, clock=clock, sleep=sleep, stats=stats):
            break
        if options.total_passes is not None and number >= options.total_passes:
            return stats
        sleep(options.loop_gap)
    stats.stopped = stop.is_set()
    return stats


def _play_pass(
    messages: list[CapturedMessage],
    publish: Publish,
    *,
    speed: float,
    stop: threading.Event,
    clock: Clock,
    sleep: Sleep,
    stats: ReplayStats,
) -> bool:
    """One pass against its own start time; False when stopped."""
    start = clock()
    for message in messages:
        if speed > 0:
            delay = start + message.offset / speed - clock()
            if delay > 0:
                sleep(delay)
        if stop.is_set():
            return False
        publish(message)
        stats.published += 1
    return True


# -- adapter onto the broker -----------------------------------------------------------


class _TrackedPublisher:
    """Publishes through a BusConnection, keeps QoS 1/2 receipts, pauses while disconnected.

    paho cannot confirm a QoS 1 message published while disconnected (its receipt keeps
    ``MQTT_ERR_NO_CONN`` even after the resend), so we wait for the connection first.
    """

    def __init__(self, connection: BusConnection, stop: threading.Event) -> None:
        self._connection = connection
        self._stop = stop
        self._pending: list[MQTTMessageInfo] = []
        self.failed = 0

    def publish(self, message: CapturedMessage) -> None:
        if not self._connection.connected:
            log.warning("broker connection lost; replay paused until it is back")
            while not self._connection.wait_connected(0.2):
                if self._connection.failure is not None:
                    raise BrokerUnavailable(self._connection.failure)
                if self._stop.is_set():
                    return  # replay() sees the stop before the next message
        info = self._connection.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        if info.rc:
            self.failed += 1
            log.warning("publish to %s failed (rc=%s); %d failed so far", message.topic, info.rc, self.failed)
        elif message.qos:
            self._pending.append(info)
            if len(self._pending) > 1000:  # a loop runs forever: keep only what is still open
                self._pending = [i for i in self._pending if not i.is_published()]

    def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` for the broker to confirm; return how many it did not."""
        deadline = time.monotonic() + timeout
        for info in self._pending:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        open_count = sum(1 for i in self._pending if not i.is_published())
        self._pending.clear()
        return open_count + self.failed


def _connect(connection: BusConnection, *, timeout: float, stop: threading.Event) -> bool:
    """Connect within ``timeout`` (BrokerUnavailable otherwise); False when stopped first."""
    connection.start()
    deadline = time.monotonic() + timeout
    while not connection.wait_connected(0.1):
        if stop.is_set() or time.monotonic() >= deadline:
            connection.stop(publish_offline=False)
            if stop.is_set():
                return False
            raise BrokerUnavailable(f"no connection to {connection.brokers.redacted()} within {timeout:g} s")
    return True


def replay_to_broker(
    capture: Capture,
    brokers: BrokerAddress,
    *,
    options: ReplayOptions | None = None,
    stop: threading.Event | None = None,
    connect_timeout: float = 30.0,
    drain_timeout: float = 10.0,
) -> ReplayStats:
    """Replay to a broker; wait for QoS 1/2 confirmations at the end (or on stop)."""
    stop = stop or threading.Event()
    connection = BusConnection(brokers, client_id=f"bus-replay-{uuid.uuid4().hex[:8]}")
    if not _connect(connection, timeout=connect_timeout, stop=stop):
        return ReplayStats(stopped=True)
    log.info("replaying %d messages to %s", len(capture.messages), connection.url.redacted())
    publisher = _TrackedPublisher(connection, stop)
    unconfirmed = 0
    try:
        stats = replay(capture, publisher.publish, options=options, stop=stop)
    finally:
        unconfirmed = publisher.drain(drain_timeout)
        connection.stop(publish_offline=False)
    stats.unconfirmed = unconfirmed
    return stats
