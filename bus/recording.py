"""Record what flows on the bus into a capture file (format: :mod:`bus.captures`).

The recorder is a plain subscriber: QoS 2 subscriptions, so every message is recorded
with the QoS it was published with, and no status topic or last will of its own (it
is an observer; it must not add traffic to what it records). The retained messages
the broker delivers at subscribe time are the state of the world when recording
began; they arrive first and are written first, with ``retain: true``.

MQTT 5 by default, with *retain-as-published* subscriptions: a snapshot that a watcher
publishes retained during the recording is then marked retained in the capture too,
and a replay rebuilds the broker's retained state faithfully. Under MQTT 3.1.1
(``mqtt311=True``, for the embedded fallback broker, which speaks nothing else) the
broker clears that flag on live delivery, so only subscribe-time messages are marked.

Offsets come from an injected monotonic clock, counted from :meth:`Recorder.start`.
Messages are written on paho's network thread, one flushed line each, so whatever
stops the process, everything received so far is on disk. A write that fails (disk
full, closed pipe) stops the recording and is reported through :attr:`Recorder.error`
— never swallowed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from bus.captures import CapturedMessage, CaptureWriter
from bus.connection import BusConnection, Message
from bus.topics import TopicError
from bus.urls import BrokerAddress, Brokers

log = logging.getLogger(__name__)

RECORD_QOS = 2


def validate_topic_filter(topic_filter: str) -> str:
    """Return ``topic_filter`` if it is a valid MQTT subscription filter, else raise TopicError."""
    if not topic_filter or "\0" in topic_filter:
        raise TopicError(f"invalid topic filter {topic_filter!r}: empty or NUL")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise TopicError(f"invalid topic filter {topic_filter!r}: '#' must be a whole, last level")
        if "+" in level and level != "+":
            raise TopicError(f"invalid topic filter {topic_filter!r}: '+' must be a whole level")
    return topic_filter


class Recorder:
    """Subscribe to ``topics`` and write every message to ``writer`` until :meth:`stop`.

    ``limit``: stop after that many messages. :attr:`finished` is set when the limit is
    reached or a write failed (then :attr:`error` says why).
    """

    def __init__(
        self,
        brokers: BrokerAddress,
        *,
        topics: Sequence[str],
        writer: CaptureWriter,
        limit: int | None = None,
        mqtt311: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.writer = writer
        self.limit = limit
        self.finished = threading.Event()
        self.error: OSError | None = None
        self.failure: str | None = None  # the connection gave up (bus.connection: a takeover)
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._connection = BusConnection(
            Brokers.of(brokers).with_protocol("3.1.1" if mqtt311 else "5"),
            client_id=f"bus-record-{uuid.uuid4().hex[:8]}",
            subscriptions=[(validate_topic_filter(t), RECORD_QOS) for t in topics],
            on_message=self._record,
            on_fatal=self._given_up,
            retain_as_published=not mqtt311,
        )

    @property
    def count(self) -> int:
        return self.writer.count

    @property
    def connected(self) -> bool:
        return self._connection.connected

    def start(self, *, wait: float | None = None) -> None:
        """Start recording; offsets count from now. Without ``wait``, keep retrying a down broker."""
        self._started = self._clock()
        self._connection.start(wait=wait)

    def stop(self) -> None:
        """Stop; nothing arrives at the writer afterwards (the caller may close its stream)."""
        with self._lock:
            self.finished.set()
        self._connection.stop(publish_offline=False)

    def _given_up(self, reason: str) -> None:
        self.failure = reason
        self.finished.set()

    def _record(self, message: Message) -> None:
        offset = self._clock() - self._started
        with self._lock:  # stop() may race with paho's thread; finished guards the writer
            if self.finished.is_set():
                return
            try:
                self.writer.write(CapturedMessage(offset, message.topic, message.payload,
                                                  retain=message.retain, qos=message.qos))
            except OSError as e:
                self.error = e
                log.error("cannot write the capture: %s; recording stopped", e)
                self.finished.set()
                return
            if self.limit is not None and self.writer.count >= self.limit:
                self.finished.set()
