"""The json and null devices, and the device options (the terminal has test_terminal*.py)."""

from __future__ import annotations

import io
import json

import pytest

from led_agent.backends import DeviceError, DeviceOptionError, check_options, open_device
from led_agent.backends.null import NullDevice


def test_json_writes_one_line_per_changed_node() -> None:
    out = io.StringIO()
    device = open_device("json", nodes=["n1", "n2"], leds=2, stream=out)
    device.show({"n1": ("ff0000", "000000"), "n2": ("000000", "000000")}, 0.2)
    device.show({"n2": ("00ff00", "000000")}, 0.2)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {"node": "n1", "leds": ["ff0000", "000000"], "brightness": 0.2},
        {"node": "n2", "leds": ["000000", "000000"], "brightness": 0.2},
        {"node": "n2", "leds": ["00ff00", "000000"], "brightness": 0.2},
    ]


def test_json_on_a_closed_stream_raises_device_error() -> None:
    out = io.StringIO()
    device = open_device("json", nodes=["n1"], leds=1, stream=out)
    out.close()
    with pytest.raises(DeviceError):
        device.show({"n1": ("ff0000",)}, 1.0)


def test_null_device_keeps_count() -> None:
    device = open_device("null", nodes=["n1"], leds=1)
    assert isinstance(device, NullDevice)
    device.show({"n1": ("ff0000",)}, 1.0)
    device.close()
    assert (device.shows, device.last, device.closed) == (1, {"n1": ("ff0000",)}, True)


@pytest.mark.parametrize(("name", "leds"), [("lava-lamp", 8), ("json", 0)])
def test_bad_options(name: str, leds: int) -> None:
    with pytest.raises(DeviceOptionError):
        check_options(name, nodes=["n1"], leds=leds)
