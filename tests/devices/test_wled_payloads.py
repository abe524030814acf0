"""WLED bodies and addresses: pure tables."""

from __future__ import annotations

import json

import pytest

from devices.wled_bridge.payloads import WledInfoError, brightness_level, led_count, runs, state_body
from devices.wled_bridge.wled import WledUrl, WledUrlError, parse_wled_url

R, G, B, D = "ff0000", "00ff00", "0000ff", "000000"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ((), []),
        ((R,), [0, R]),
        ((R, G, B), [0, R, 1, G, 2, B]),
        ((R, G, D, D, D), [0, R, 1, G, 2, 5, D]),
        ((B, B, R, B), [0, 2, B, 2, R, 3, B]),
        ((D,) * 300, [0, 300, D]),
    ],
)
def test_frames_become_single_leds_and_ranges(frame: tuple[str, ...], expected: list[int | str]) -> None:
    assert runs(frame) == expected


def test_the_body_switches_on_and_sends_brightness_only_when_asked() -> None:
    assert json.loads(state_body((R, D), segment=0, brightness=None)) == {"on": True, "seg": {"id": 0,
                                                                                          "i": [0, R, 1, D]}}
    assert json.loads(state_body((R,), segment=2, brightness=0.2)) == {"on": True, "bri": 51,
                                                                        "seg": {"id": 2, "i": [0, R]}}


@pytest.mark.parametrize(("brightness", "bri"), [(0.0, 1), (0.001, 1), (0.5, 128), (1.0, 255)])
def test_brightness_never_switches_wled_off(brightness: float, bri: int) -> None:
    assert brightness_level(brightness) == bri


@pytest.mark.parametrize(
    "info", [b"nope", b"[]", b'{"leds":{}}', b'{"leds":{"count":0}}', b'{"leds":{"count":"8"}}',
             b'{"leds":{"count":true}}', b'{"leds":7}'],
)
def test_an_info_without_a_usable_led_count_is_an_error(info: bytes) -> None:
    with pytest.raises(WledInfoError, match=r"leds\.count"):
        led_count(info)


def test_the_led_count_of_a_real_looking_info() -> None:
    assert led_count(b'{"ver":"0.15.0","leds":{"count":30,"rgbw":false,"pin":[2]},"name":"WLED"}') == 30


@pytest.mark.parametrize(
    ("text", "url"),
    [("http://wled.local", WledUrl("wled.local", 80)), ("wled.local:8080", WledUrl("wled.local", 8080)),
     ("https://10.0.0.5/", WledUrl("10.0.0.5", 443, tls=True)), ("http://[::1]:81", WledUrl("::1", 81))],
)
def test_wled_addresses(text: str, url: WledUrl) -> None:
    assert parse_wled_url(text) == url


@pytest.mark.parametrize(("text", "reason"), [("ftp://wled.local", "use http"), ("http://", "without a path"),
                                              ("http://wled.local/json/state", "without a path"),
                                              ("http://wled.local:99999", "bad port")])
def test_unusable_wled_addresses(text: str, reason: str) -> None:
    with pytest.raises(WledUrlError, match=reason):
        parse_wled_url(text)
