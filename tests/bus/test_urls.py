"""Broker URLs and failover lists: parsing, the one resolution rule, and errors that show no password."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.urls import Brokers, BrokerUrlError, parse_broker_url, parse_brokers, redact_text, resolve_broker_urls

# Passwords that broke the old parser (urlsplit ends the user info at '/', '?' or '#'), and worse.
NASTY = ["p/ss", "p#ss", "p?ss", "p@ss", "p:ss", "a/b#c?d@e:f", "%41ctual-percent", "spa ce", "ünï©ødé", "'\"`$(x)"]


def test_defaults() -> None:
    url = parse_broker_url("mqtt://broker")
    assert (url.host, url.port, url.transport, url.tls, url.protocol) == ("broker", 1883, "tcp", False, "3.1.1")


def test_full_url() -> None:
    url = parse_broker_url("wss://u%40x:p%3Aw@h.example:9443/ws?protocol=5")
    assert (url.username, url.password, url.port, url.path, url.transport, url.tls, url.protocol) == (
        "u@x", "p:w", 9443, "/ws", "websockets", True, "5",
    )
    assert "p:w" not in url.redacted() and "p:w" not in repr(url)


@pytest.mark.parametrize(("text", "port"), [("mqtts://h", 8883), ("ws://h", 80), ("wss://h", 443), ("MQTT://h:7", 7)])
def test_default_ports_per_scheme(text: str, port: int) -> None:
    assert parse_broker_url(text).port == port


def test_ipv6_hosts() -> None:
    url = parse_broker_url("mqtt://[::1]:1884")
    assert (url.host, url.port, url.redacted()) == ("::1", 1884, "mqtt://[::1]:1884")


@pytest.mark.parametrize("password", NASTY)
def test_a_password_may_hold_anything_but_a_comma(password: str) -> None:
    url = parse_broker_url(f"mqtt://user:{password}@broker.example:1884")
    expected = "%41ctual-percent".replace("%41", "A") if password.startswith("%41") else password
    assert (url.username, url.password, url.host, url.port) == ("user", expected, "broker.example", 1884)
    assert password not in url.redacted() and password not in repr(url)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("http://h", "scheme must be one of"),
        ("mqtt://", "no host"),
        ("mqtt://h:notaport", "bad port"),
        ("mqtt://h:0", "bad port"),
        ("mqtt://h:70000", "bad port"),
        ("mqtt://h?protocol=4", "protocol must be"),
        ("h:1883", "scheme must be one of"),
        ("mqtt://:secret-pw@h", "a password needs a user name"),
        ("mqtt://h h", "bad host"),
    ],
)
def test_bad_urls_say_why(text: str, reason: str) -> None:
    with pytest.raises(BrokerUrlError, match=reason):
        parse_broker_url(text)


BAD_WITH_PASSWORDS = [
    "http://user:{pw}@h",  # wrong scheme
    "mqtt://user:{pw}@",  # no host
    "mqtt://user:{pw}@h:port",  # bad port
    "mqtt://user:{pw}@h?protocol=7",  # bad protocol
    "mqtt://user:{pw}",  # forgot the host: the password reads as a port
    "mqtt://:{pw}@h",  # no user
    "mqtt://user:{pw}@h h",  # bad host
]
PASSWORDS = ["s3cret/pw", "s3cret#pw", "s3cret?pw", "s3cret@pw", "plain-s3cret"]


@pytest.mark.parametrize(
    "text",
    # (mqtt://user:s3cret@pw is a good URL: user "user", password "s3cret", host "pw")
    [t.format(pw=pw) for t in BAD_WITH_PASSWORDS for pw in PASSWORDS if not (t.endswith("{pw}") and "@" in pw)],
)
def test_no_error_shows_the_password(text: str) -> None:
    with pytest.raises(BrokerUrlError) as error:
        parse_broker_url(text)
    assert "s3cret" not in str(error.value)


@given(st.text(st.characters(codec="utf-8"), min_size=4))
def test_any_password_round_trips_and_never_shows(password: str) -> None:
    from urllib.parse import quote

    url = parse_broker_url(f"mqtt://user:{quote(password, safe='')}@h")
    assert url.password == password
    assert redact_text(f"mqtt://user:{quote(password, safe='')}@h") == "mqtt://user:***@h"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("mqtt://u:pw/x#y@h:1884/path?protocol=5", "mqtt://u:***@h:1884/…"),
        ("mqtt://u@h", "mqtt://u@h"),
        ("mqtt://u:secret", "mqtt://u:***"),
        ("mqtt://h:1884", "mqtt://h:1884"),
        ("garbage", "garbage"),
    ],
)
def test_redact_text(text: str, shown: str) -> None:
    assert redact_text(text) == shown


# -- failover lists -------------------------------------------------------------------


def test_a_list_keeps_its_order() -> None:
    brokers = parse_brokers(["mqtt://a:1,mqtt://b:2", " mqtt://c:3 "])
    assert [(u.host, u.port) for u in brokers] == [("a", 1), ("b", 2), ("c", 3)]
    assert brokers.redacted() == "mqtt://a:1, mqtt://b:2, mqtt://c:3"
    assert Brokers.of(brokers.first) == Brokers((brokers.first,)) and Brokers.of(brokers) is brokers


@pytest.mark.parametrize("values", [["mqtt://a,,mqtt://b"], ["mqtt://a,"], [","]])
def test_empty_entries_are_errors(values: list[str]) -> None:
    with pytest.raises(BrokerUrlError, match="empty entry"):
        parse_brokers(values)


@pytest.mark.parametrize("values", [["mqtt://a", "mqtts://b"], ["mqtt://a", "mqtt://b?protocol=5"], ["ws://a,mqtt://b"]])
def test_a_list_shares_scheme_and_protocol(values: list[str]) -> None:
    with pytest.raises(BrokerUrlError, match="share scheme and protocol"):
        parse_brokers(values)


def test_one_resolution_rule_flags_then_env_then_default() -> None:
    env = {"MQTT_URL": "mqtt://e1:1, mqtt://e2:2"}
    assert [u.host for u in resolve_broker_urls(None, env)] == ["e1", "e2"]
    assert [u.host for u in resolve_broker_urls(["mqtt://f1", "mqtt://f2,mqtt://f3"], env)] == ["f1", "f2", "f3"]
    assert [(u.host, u.port) for u in resolve_broker_urls(None, {})] == [("127.0.0.1", 1883)]
    assert [u.host for u in resolve_broker_urls([], {"MQTT_URL": "  "})] == ["127.0.0.1"]


@pytest.mark.parametrize(("flags", "env", "source"), [(None, {"MQTT_URL": "mqtt://u:topsecret@h:x"}, "$MQTT_URL"),
                                                     (["mqtt://u:topsecret@h:x"], {}, "--broker")])
def test_resolution_errors_name_the_source_not_the_password(flags: list[str] | None, env: dict[str, str],
                                                            source: str) -> None:
    with pytest.raises(BrokerUrlError) as error:
        resolve_broker_urls(flags, env)
    assert str(error.value).startswith(f"{source}: ") and "topsecret" not in str(error.value)
