"""One paho-mqtt 2.x client with the contract's habits.

- QoS 1 for events and retained state; a last will on the publisher's status topic.
- ``persistent=True`` (agents): a fixed client id and a session the broker keeps across
  disconnects (``clean_session=False`` on 3.1.1; ``clean_start=False`` with a session
  expiry on 5), so QoS 1 events queue while the agent is away.
- Reconnect forever with exponential backoff (1 s → 30 s), a log line on each connect
  and disconnect. Subscriptions and ``on_connect`` run again on *every* connect: the
  watcher republishes its snapshot and status there, which heals a broker that lost its
  retained messages.
- A broker that is down is not an error: the client keeps trying and says so in the log.

Callbacks run on paho's network thread. They must not block; the agent hands messages
to its own queue (see ``led_agent.agent``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from bus.messages import OFFLINE, ONLINE
from bus.urls import BrokerUrl

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 24 * 3600
KEEPALIVE_SECONDS = 15


@dataclass(frozen=True)
class Message:
    """An incoming message, detached from paho."""

    topic: str
    payload: bytes
    retain: bool
    qos: int


MessageHandler = Callable[[Message], None]


class BrokerUnavailable(ConnectionError):
    """The broker could not be reached within the time asked for."""


class BusConnection:
    """A connected-or-reconnecting MQTT client.

    ``status_topic`` (optional) gets a retained ``online`` on every connect, a last will
    ``offline``, and a retained ``offline`` on a clean :meth:`stop`.
    """

    def __init__(
        self,
        url: BrokerUrl,
        *,
        client_id: str,
        persistent: bool = False,
        status_topic: str | None = None,
        subscriptions: Iterable[tuple[str, int]] = (),
        on_message: MessageHandler | None = None,
        on_connect: Callable[[], None] | None = None,
        retain_as_published: bool = False,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.status_topic = status_topic
        self._subscriptions = list(subscriptions)
        # MQTT 5 only: keep the retain flag of messages published while we are subscribed
        # (the recorder needs it; 3.1.1 brokers clear it on live delivery).
        self._retain_as_published = retain_as_published and url.protocol == "5"
        self._on_message = on_message
        self._on_connect = on_connect
        self._connected = threading.Event()
        self._stopping = False
        self.connects = 0
        self._client = self._make_client(client_id, persistent)

    def _make_client(self, client_id: str, persistent: bool) -> mqtt.Client:
        v5 = self.url.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if v5 else not persistent,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            transport=self.url.transport,
            reconnect_on_failure=True,
        )
        self._persistent = persistent
        if self.url.transport == "websockets":
            client.ws_set_options(path=self.url.path)
        if self.url.tls:
            client.tls_set()
        if self.url.username:
            client.username_pw_set(self.url.username, self.url.password)
        if self.status_topic:
            client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_connect_fail = self._handle_connect_fail
        client.on_message = self._handle_message
        return client

    # -- lifecycle -------------------------------------------------------------------

    def start(self, *, wait: float | None = None) -> None:
        """Connect in the background; with ``wait``, raise BrokerUnavailable if not up by then."""
        kwargs: dict[str, Any] = {"keepalive": KEEPALIVE_SECONDS}
        if self.url.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS if self._persistent else 0
            kwargs |= {"clean_start": not self._persistent, "properties": props}
        self._client.connect_async(self.url.host, self.url.port, **kwargs)
        self._client.loop_start()
        if wait is not None and not self._connected.wait(wait):
            self.stop(publish_offline=False)
            raise BrokerUnavailable(f"no connection to {self.url.redacted()} within {wait:g} s")

    def stop(self, *, publish_offline: bool = True, timeout: float = 2.0) -> None:
        """Say ``offline`` (if we have a status topic and are connected), then disconnect."""
        if publish_offline and self.status_topic and self._connected.is_set():
            info = self._client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            info.wait_for_publish(timeout)
        self._stopping = True  # the disconnect below is ours: not worth a warning
        self._client.disconnect()
        self._client.loop_stop()

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

    # -- paho callbacks (network thread) ---------------------------------------------

    def _handle_connect(self, client: mqtt.Client, _u: object, flags: Any, reason: Any, _p: object) -> None:
        if reason.is_failure:
            log.warning("%s: broker %s refused the connection: %s", self.client_id, self.url.redacted(), reason)
            return
        self.connects += 1
        log.info("%s: connected to %s (session present: %s)", self.client_id, self.url.redacted(),
                 flags.session_present)
        if self._subscriptions:
            client.subscribe(self._subscription_request(self._subscriptions))
        if self.status_topic:
            client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        if self._on_connect:
            self._on_connect()
        self._connected.set()

    def _handle_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and self._stopping:
            log.info("%s: disconnected from %s", self.client_id, self.url.redacted())
        elif was_connected:
            log.warning("%s: disconnected from %s: %s; reconnecting", self.client_id, self.url.redacted(), reason)

    def _handle_connect_fail(self, _c: mqtt.Client, _u: object) -> None:
        log.warning("%s: cannot reach broker %s; retrying with backoff", self.client_id, self.url.redacted())

    def _handle_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            self._on_message(Message(topic=msg.topic, payload=bytes(msg.payload), retain=msg.retain, qos=msg.qos))
        except Exception:  # a handler bug must not kill paho's network thread
            log.exception("message handler failed on %s", msg.topic)
