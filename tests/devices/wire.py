"""The watcher's side of the wire for device tests: a plain paho publisher on the test broker."""

from __future__ import annotations

import json
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.brokers import BrokerEndpoint


class Publisher:
    """QoS 1 publishes to ``<prefix>nodes/<node>/…``, each confirmed by the broker."""

    def __init__(self, endpoint: BrokerEndpoint, prefix: str, node: str = "n1") -> None:
        self.base = f"{prefix}nodes/{node}/"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        self._client.connect(endpoint.host, endpoint.port)
        self._client.loop_start()

    def send(self, kind: str, payload: bytes | dict[str, Any], *, retain: bool = False) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._client.publish(self.base + kind, data, qos=1, retain=retain).wait_for_publish(5)

    def snapshot(self, seq: int, *pods: dict[str, Any], **extra: Any) -> None:
        self.send("state", {"v": 1, "node": "n1", "seq": seq, "pods": list(pods), **extra}, retain=True)

    def event(self, action: str, pod: str, **fields: Any) -> None:
        self.send("pods", {"v": 1, "action": action, "pod": pod, "node": "n1", **fields})

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
