"""One paho-mqtt 2.x client with the contract's habits, over a failover list of brokers.

- QoS 1 for events and retained state; a last will on the publisher's status topic.
- ``persistent=True`` (agents): a fixed client id and a session the broker keeps across
  disconnects (``clean_session=False`` on 3.1.1; ``clean_start=False`` with a session
  expiry on 5), so QoS 1 events queue while the agent is away.
- Failover: paho has one host per client, so the client's ``reconnect()`` — which
  paho's network thread calls before every attempt — is where we wait and point the
  client at the broker ``bus.failover.Rotation`` chose (host, port, credentials,
  websocket path). paho's own backoff is off: it grew to 30 s, so after a 19 s outage
  the lights lagged 10.4 s. Ours retries a returning broker within about a second and
  never more than about once a second while it stays down, with jitter.
- Subscriptions, the ``online`` status and ``on_connect`` run again on *every*
  connect, to whichever broker: the watcher republishes its snapshots and status
  there, which heals a broker that lost its retained messages or is another one.
  QoS 1 messages published while no broker is connected wait in paho's queue and go
  to the broker that answers next.
- Log lines name the broker (``BrokerUrl.redacted``: never a password): one per
  connect, one per lost connection, and failed attempts once per outage and broker,
  then a summary every :data:`STILL_DOWN_LOG_SECONDS`.

Takeover. Another client connecting with our client id takes our session and the
broker closes our connection; reconnecting would take it back, and two processes
would push each other out forever. So a takeover — MQTT 5 says so (reason 0x8E), on
3.1.1 ``bus.failover.TakeoverWatch`` recognises the pattern of being dropped right
after connecting while every reconnect succeeds, repeatedly — is *fatal*: the connection stops reconnecting, logs
one ERROR line naming the client id and the broker with the hint to give each
process its own id (``--agent-id``), keeps the reason in :attr:`BusConnection.failure`
and calls ``on_fatal`` once. The entry points then stop and exit with status 3
(``bus.shell.run_until_stopped`` watches :attr:`BusConnection.failure`): a supervisor
restarts them with its own backoff, visibly, instead of a silent fight.

Callbacks run on paho's network thread. They must not block; the agent hands messages
to its own queue (see ``led_agent.agent``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from bus.failover import SESSION_TAKEN_OVER, Rotation, TakeoverWatch
from bus.messages import OFFLINE, ONLINE
from bus.urls import BrokerAddress, Brokers, BrokerUrl

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 24 * 3600
KEEPALIVE_SECONDS = 15
CONNECT_TIMEOUT_SECONDS = 3.0
STILL_DOWN_LOG_SECONDS = 30.0


@dataclass(frozen=True)
class Message:
    """An incoming message, detached from paho."""

    topic: str
    payload: bytes
    retain: bool
    qos: int


MessageHandler = Callable[[Message], None]


class BrokerUnavailable(ConnectionError):
    """No broker of the list could be reached within the time asked for."""


class _Stopped(OSError):
    """Raised from ``reconnect`` to end paho's loop: we are stopping or gave up."""


class _FailoverClient(mqtt.Client):
    """paho's client, asking ``before_attempt`` where and when before every connection attempt."""

    def __init__(self, *args: Any, before_attempt: Callable[[], None], on_attempt_error: Callable[[OSError], None],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._before_attempt = before_attempt
        self._on_attempt_error = on_attempt_error

    def release(self) -> None:
        """Close the wake-up socket pair now, not whenever the garbage collector gets to this client."""
        self._reset_sockets()

    def reconnect(self) -> MQTTErrorCode:
        self._before_attempt()
        try:
            return super().reconnect()
        except OSError as e:
            self._on_attempt_error(e)
            raise


class BusConnection:
    """A connected-or-reconnecting MQTT client over one broker or a failover list.

    ``status_topic`` (optional) gets a retained ``online`` on every connect, a last will
    ``offline``, and a retained ``offline`` on a clean :meth:`stop`.
    """

    def __init__(
        self,
        brokers: BrokerAddress,
        *,
        client_id: str,
        persistent: bool = False,
        status_topic: str | None = None,
        subscriptions: Iterable[tuple[str, int]] = (),
        on_message: MessageHandler | None = None,
        on_connect: Callable[[], None] | None = None,
        on_fatal: Callable[[str], None] | None = None,
        retain_as_published: bool = False,
        rotation: Rotation | None = None,
        takeovers: TakeoverWatch | None = None,
    ) -> None:
        self.brokers = Brokers.of(brokers)
        self.client_id = client_id
        self.status_topic = status_topic
        self._persistent = persistent
        self._subscriptions = list(subscriptions)
        # MQTT 5 only: keep the retain flag of messages published while we are subscribed
        # (the recorder needs it; 3.1.1 brokers clear it on live delivery).
        self._retain_as_published = retain_as_published and self.brokers.protocol == "5"
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_fatal = on_fatal
        self._rotation = rotation or Rotation(len(self.brokers))
        self._takeovers = takeovers or TakeoverWatch()
        self._connected = threading.Event()
        self._wake = threading.Event()  # set by stop(): ends a wait between attempts at once
        self._stopping = False
        self._current = self.brokers.first
        self._last_error: str | None = None
        self._attempt_reported = False
        self._outage_started: float | None = None
        self._outage_logged: set[int] = set()
        self._outage_summary_at = 0.0
        self._outage_attempts = 0
        self.failure: str | None = None
        self.connects = 0
        self.attempts = 0
        self._client = self._make_client()

    @property
    def url(self) -> BrokerUrl:
        """The broker connected to now, or tried last."""
        return self._current

    def _make_client(self) -> _FailoverClient:
        v5 = self.brokers.protocol == "5"
        client = _FailoverClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else not self._persistent,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            transport=self.brokers.first.transport,
            reconnect_on_failure=True,
            before_attempt=self._before_attempt,
            on_attempt_error=self._attempt_error,
        )
        if self.brokers.first.tls:
            client.tls_set()
        if self.status_topic:
            client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=0, max_delay=0)  # the rotation waits, in _before_attempt
        client.connect_timeout = CONNECT_TIMEOUT_SECONDS
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        if logging.getLogger("bus.paho").isEnabledFor(logging.DEBUG):
            client.enable_logger(logging.getLogger("bus.paho"))  # through bus.shell's redacting handler
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_connect_fail = self._handle_connect_fail
        client.on_message = self._handle_message
        return client

    # -- lifecycle -------------------------------------------------------------------

    def start(self, *, wait: float | None = None) -> None:
        """Connect in the background; with ``wait``, raise BrokerUnavailable if no broker is up by then."""
        self._point_at(self.brokers.first)
        self._client.loop_start()
        if wait is not None and not self._connected.wait(wait):
            self.stop(publish_offline=False)
            raise BrokerUnavailable(f"no connection to {self.brokers.redacted()} within {wait:g} s")

    def stop(self, *, publish_offline: bool = True, timeout: float = 2.0) -> None:
        """Say ``offline`` (if we have a status topic and are connected), then disconnect."""
        if publish_offline and self.status_topic and self._connected.is_set():
            info = self._client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            info.wait_for_publish(timeout)
        self._stopping = True  # the disconnect below is ours: not worth a warning
        self._wake.set()
        self._client.disconnect()
        self._client.loop_stop()
        self._client.release()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- publishing ------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Publish; while disconnected, QoS 1 messages wait in paho's queue."""
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe now and again after every reconnect."""
        self._subscriptions.append((topic_filter, qos))
        if self.connected:
            self._client.subscribe(self._subscription_request([(topic_filter, qos)]))

    def unsubscribe(self, topic_filter: str) -> None:
        self._subscriptions = [(t, q) for t, q in self._subscriptions if t != topic_filter]
        self._client.unsubscribe(topic_filter)

    def _subscription_request(
        self, subscriptions: list[tuple[str, int]]
    ) -> list[tuple[str, int]] | list[tuple[str, SubscribeOptions]]:
        if not self._retain_as_published:
            return subscriptions
        return [(t, SubscribeOptions(qos=q, retainAsPublished=True)) for t, q in subscriptions]

    # -- choosing the broker (paho's network thread, from _FailoverClient.reconnect) --

    def _before_attempt(self) -> None:
        self._end_if_done()
        attempt = self._rotation.next()
        if attempt.delay > 0:
            self._wake.wait(attempt.delay)
        self._end_if_done()
        self.attempts += 1
        self._attempt_reported = False
        self._point_at(self.brokers.urls[attempt.index])

    def _end_if_done(self) -> None:
        if self.failure is not None:
            self._wake.wait()  # given up: paho's thread idles here until stop()
        if self._stopping:
            self._client.disconnect()  # paho's loop ends instead of trying again
            raise _Stopped("stopping")

    def _point_at(self, url: BrokerUrl) -> None:
        self._current = url
        if url.transport == "websockets":
            self._client.ws_set_options(path=url.path)
        self._client.username_pw_set(url.username, url.password)
        kwargs: dict[str, Any] = {"keepalive": KEEPALIVE_SECONDS}
        if url.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS if self._persistent else 0
            kwargs |= {"clean_start": not self._persistent, "properties": props}
        self._client.connect_async(url.host, url.port, **kwargs)

    def _attempt_error(self, error: OSError) -> None:
        self._last_error = error.strerror or str(error) or type(error).__name__

    # -- paho callbacks (network thread) ---------------------------------------------

    def _handle_connect(self, client: mqtt.Client, _u: object, flags: Any, reason: Any, _p: object) -> None:
        if reason.is_failure:
            hint = " (does it speak MQTT 5? use MQTT 3.1.1)" if self.brokers.protocol == "5" else ""
            self._attempt_failed(f"refused the connection: {reason}{hint}")
            return
        self.connects += 1
        self._rotation.connected()
        self._takeovers.connected()
        self._end_outage()
        place = f" ({self._rotation.index + 1} of {len(self.brokers)})" if len(self.brokers) > 1 else ""
        log.info("%s: connected to %s%s (session present: %s)", self.client_id, self._current.redacted(), place,
                 flags.session_present)
        if self._subscriptions:
            client.subscribe(self._subscription_request(self._subscriptions))
        if self.status_topic:
            client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        if self._on_connect:
            self._on_connect()
        self._connected.set()

    def _handle_disconnect(self, _c: mqtt.Client, _u: object, flags: Any, reason: Any, _p: object) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        url = self._current.redacted()
        if self._stopping:
            log.info("%s: disconnected from %s", self.client_id, url)
        elif not was_connected:
            self._attempt_failed(f"closed the connection before accepting it ({reason})")
        elif flags.is_disconnect_packet_from_server and reason.value == SESSION_TAKEN_OVER:
            self._fail(f"{url} handed our session to another client that connected with client id "
                       f"{self.client_id!r} (MQTT 5: {reason})")
        elif self._takeovers.lost():
            self._fail(f"{url} closed our connection right after accepting it, {self._takeovers.in_a_row} times "
                       f"in a row: another client is probably connecting with client id {self.client_id!r}, "
                       f"or the broker refuses something we send (check its log)")
        else:
            upcoming = self.brokers.urls[self._rotation.upcoming].redacted()
            log.warning("%s: lost %s: %s; reconnecting to %s", self.client_id, url, reason, upcoming)
            self._start_outage(time.monotonic())

    def _handle_connect_fail(self, _c: mqtt.Client, _u: object) -> None:
        if not self._stopping and self.failure is None:
            self._attempt_failed(f"cannot be reached: {self._last_error or 'connection failed'}")

    def _handle_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            self._on_message(Message(topic=msg.topic, payload=bytes(msg.payload), retain=msg.retain, qos=msg.qos))
        except Exception:  # a handler bug must not kill paho's network thread
            log.exception("message handler failed on %s", msg.topic)

    # -- reporting -----------------------------------------------------------------------

    def _attempt_failed(self, what: str) -> None:
        """One failed attempt: logged once per outage and broker, then summarised now and then."""
        self._takeovers.failed()
        if self._attempt_reported:  # a refused CONNACK is followed by the broker closing the socket
            return
        self._attempt_reported = True
        now = time.monotonic()
        started = self._outage_started if self._outage_started is not None else self._start_outage(now)
        index = self._rotation.index
        upcoming = self.brokers.urls[self._rotation.upcoming].redacted()
        if index not in self._outage_logged:
            self._outage_logged.add(index)
            log.warning("%s: cannot reach broker %s: it %s; retrying (next: %s)", self.client_id,
                        self._current.redacted(), what, upcoming)
        elif now - self._outage_summary_at >= STILL_DOWN_LOG_SECONDS:
            self._outage_summary_at = now
            log.warning("%s: still no broker of %s answers after %.0f s (%d attempts); last: %s %s",
                        self.client_id, self.brokers.redacted(), now - started,
                        self.attempts - self._outage_attempts, self._current.redacted(), what)

    def _start_outage(self, now: float) -> float:
        self._outage_started = self._outage_summary_at = now
        self._outage_attempts = self.attempts
        return now

    def _end_outage(self) -> None:
        if self._outage_started is not None and self._outage_logged:
            log.info("%s: broker reached after %.1f s", self.client_id, time.monotonic() - self._outage_started)
        self._outage_started = None
        self._outage_logged.clear()

    def _fail(self, reason: str) -> None:
        """Stop reconnecting, for good: report once, keep the reason, tell the owner."""
        self.failure = reason
        log.error("%s: %s. Not reconnecting, so the two do not push each other out forever: give each process "
                  "its own client id (for an LED agent: --agent-id).", self.client_id, reason)
        if self._on_fatal is not None:
            self._on_fatal(reason)
