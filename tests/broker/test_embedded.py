"""The embedded broker (amqtt) sends a connecting client the retained messages of its own filters only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from broker.launching import RunningBroker, start_embedded
from bus.connection import BusConnection
from bus.urls import parse_broker_url
from tests.support.brokers import BrokerEndpoint
from tests.support.probes import Probe


@pytest.fixture(scope="module")
def embedded() -> Iterator[RunningBroker]:
    broker = start_embedded()
    yield broker
    broker.stop()


def test_a_new_client_gets_the_retained_messages_of_its_own_filters_only(embedded: RunningBroker) -> None:
    endpoint = BrokerEndpoint("127.0.0.1", embedded.port)
    mine, theirs = f"{uuid.uuid4().hex[:6]}/mine", f"{uuid.uuid4().hex[:6]}/theirs"
    other = Probe(endpoint, theirs)  # another client's filter, in the broker's table
    publisher = BusConnection(parse_broker_url(embedded.url), client_id=f"pub-{uuid.uuid4().hex[:6]}")
    publisher.start(wait=5)
    publisher.publish(theirs, b"t", retain=True).wait_for_publish(5)
    publisher.publish(mine, b"m", retain=True).wait_for_publish(5)
    publisher.stop(publish_offline=False)
    other.wait_for(lambda ms: [m.payload for m in ms] == [b"t"])
    late = Probe(endpoint, mine)
    late.wait_for(lambda ms: len(ms) >= 1)
    again = Probe(endpoint, f"{mine}/+")  # connects after both: amqtt 0.12 alone would send it both
    try:
        assert [(m.topic, m.payload) for m in late.messages] == [(mine, b"m")]
        assert again.messages == []
    finally:
        for probe in (other, late, again):
            probe.close()
