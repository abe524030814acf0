"""The MQTT engines the project runs on, started the same way: for the tests, the benches and the demo.

    engine = start_engine("nats")      # mosquitto | embedded | nats | rabbitmq
    engine.urls                        # one MQTT URL per server ("mqtt://127.0.0.1:PORT")
    engine.stop()

- ``mosquitto``: the reference (``broker.launching``), one server;
- ``embedded``: amqtt in a child process, MQTT 3.1.1 only, retained messages in memory;
- ``nats``: a 3-server NATS cluster with JetStream (``broker.nats_cluster``);
- ``rabbitmq``: a private RabbitMQ node with its MQTT plugin (``broker.rabbitmq_node``).

Each runs on free loopback ports with private data, never the system services; how
they differ for users is in ``docs/operations.md`` ("Brokers").
"""

from __future__ import annotations

from typing import Protocol

from broker.launching import find_mosquitto, start_embedded, start_mosquitto
from broker.nats_cluster import find_nats_server, start_nats_cluster
from broker.rabbitmq_node import find_rabbitmq, start_rabbitmq

ENGINES = ("mosquitto", "embedded", "nats", "rabbitmq")


class Engine(Protocol):
    """A running engine this code started."""

    @property
    def kind(self) -> str: ...

    @property
    def urls(self) -> tuple[str, ...]: ...

    def stop(self) -> None: ...


def available(kind: str) -> bool:
    """Whether this machine has what ``kind`` needs (the embedded broker always does)."""
    finders = {"mosquitto": find_mosquitto, "nats": find_nats_server, "rabbitmq": find_rabbitmq}
    return kind == "embedded" or (kind in finders and finders[kind]() is not None)


def start_engine(kind: str) -> Engine:
    """Start one engine of :data:`ENGINES` on free ports; ValueError for an unknown kind."""
    if kind == "mosquitto":
        return start_mosquitto(persistence=False)
    if kind == "embedded":
        return start_embedded()
    if kind == "nats":
        return start_nats_cluster()
    if kind == "rabbitmq":
        return start_rabbitmq()
    raise ValueError(f"unknown engine {kind!r}: one of {', '.join(ENGINES)}")
