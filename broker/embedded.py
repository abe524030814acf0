"""The embedded fallback broker: amqtt (pure Python, MQTT 3.1.1), for bare machines.

Used only when no ``mosquitto`` binary exists, so ``make demo`` runs anywhere Python
does. It keeps retained messages in memory only; for anything beyond a demo, install
Mosquitto (``broker/mosquitto.conf``).

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


async def serve(port: int, host: str) -> None:
    from amqtt.broker import Broker

    broker = Broker(amqtt_config(port, host))
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()
