"""The embedded fallback broker: amqtt (pure Python, MQTT 3.1.1), for bare machines.

Used only when no ``mosquitto`` binary exists, so ``make demo`` runs anywhere Python
does. It keeps retained messages in memory only; for anything beyond a demo, install
Mosquitto (``broker/mosquitto.conf``).

One fix on top of amqtt 0.12: on every connect it sends the client the retained
messages matching *any* client's subscriptions (it loops over the broker-wide table),
so each agent got every other node's snapshots, dropped as ``unexpected_topic``.
:func:`broker_class` sends a client only the retained messages of its own filters.

    python -m broker --port 1883     (broker/cli.py)
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any


def amqtt_config(port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


def broker_class() -> type[Any]:
    """amqtt's Broker, sending retained messages only for the connecting client's own subscriptions."""
    from amqtt.broker import Broker

    class OwnRetainedBroker(Broker):  # type: ignore[misc]
        async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                              session: Any) -> None:
            holders = self._subscriptions.get(subscription[0], ())
            if any(holder.client_id == session.client_id for holder, _qos in holders):
                await super()._publish_retained_messages_for_subscription(subscription, session)

    return OwnRetainedBroker


async def serve(port: int, host: str) -> None:
    broker = broker_class()(amqtt_config(port, host))
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()
