import pytest

from bus.urls import BrokerUrlError, parse_broker_url, resolve_broker_url


def test_defaults() -> None:
    url = parse_broker_url("mqtt://broker")
    assert (url.host, url.port, url.transport, url.tls, url.protocol) == ("broker", 1883, "tcp", False, "3.1.1")


def test_full_url() -> None:
    url = parse_broker_url("wss://u%40x:p%3Aw@h.example:9443/ws?protocol=5")
    assert (url.username, url.password, url.port, url.path, url.transport, url.tls, url.protocol) == (
        "u@x", "p:w", 9443, "/ws", "websockets", True, "5",
    )
    assert "p:w" not in url.redacted()


@pytest.mark.parametrize("text", ["http://h", "mqtt://", "mqtt://h:notaport", "mqtt://h?protocol=4", "h:1883"])
def test_bad_urls(text: str) -> None:
    with pytest.raises(BrokerUrlError):
        parse_broker_url(text)


def test_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_URL", "mqtt://from-env:1")
    assert resolve_broker_url(None).host == "from-env"
    assert resolve_broker_url("mqtt://flag:2").host == "flag"
    monkeypatch.delenv("MQTT_URL")
    assert resolve_broker_url(None).port == 1883
