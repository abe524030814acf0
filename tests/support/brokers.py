"""The suite's broker: a Mosquitto of its own on a free port, never the system one on 1883.

The local ``mosquitto`` binary when there is one; else testcontainers' Mosquitto where a
Docker engine answers; else the session fails with a clear message.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from broker.launching import find_mosquitto, start_mosquitto


@dataclass(frozen=True)
class BrokerEndpoint:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


class NoBroker(RuntimeError):
    """Neither a mosquitto binary nor a Docker engine is available."""


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        import docker

        docker.from_env().ping()
    except Exception:  # no engine, no permission, no socket: all mean "not here"
        return False
    return True


@contextmanager
def session_mosquitto() -> Iterator[BrokerEndpoint]:
    if find_mosquitto():
        broker = start_mosquitto(persistence=False)
        try:
            yield BrokerEndpoint("127.0.0.1", broker.port)
        finally:
            broker.stop()
        return
    if docker_available():
        from testcontainers.mqtt import MosquittoContainer

        with MosquittoContainer() as container:
            yield BrokerEndpoint(container.get_container_host_ip(), int(container.get_exposed_port(1883)))
        return
    raise NoBroker("no broker for the tests: install mosquitto (apt-get install mosquitto) or run Docker")
