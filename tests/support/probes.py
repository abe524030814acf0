"""A plain paho subscriber that records what arrives, for assertions on the wire."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.brokers import BrokerEndpoint
from tests.support.waiting import DEFAULT_TIMEOUT, Collector


def _describe(message: mqtt.MQTTMessage) -> tuple[str, bytes]:
    return message.topic, bytes(message.payload[:80])


class Probe:
    """Subscribed to ``topic_filter`` (QoS 1) once constructed; :attr:`messages` in arrival order."""

    def __init__(self, endpoint: BrokerEndpoint, topic_filter: str) -> None:
        self._arrivals: Collector[mqtt.MQTTMessage] = Collector(_describe)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        self._client.on_message = lambda _c, _u, msg: self._arrivals.add(msg)
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect(endpoint.host, endpoint.port)
        self._client.subscribe(topic_filter, qos=1)
        self._client.loop_start()
        assert subscribed.wait(5), "probe could not subscribe"

    @property
    def messages(self) -> list[mqtt.MQTTMessage]:
        return self._arrivals.items

    def wait_for(self, predicate: Callable[[list[mqtt.MQTTMessage]], object], timeout: float = DEFAULT_TIMEOUT) -> None:
        self._arrivals.wait_for(predicate, timeout=timeout, what="probe condition")

    def close(self) -> None:
        self._client.disconnect()  # first, so the network loop sees it and stops at once
        self._client.loop_stop()
