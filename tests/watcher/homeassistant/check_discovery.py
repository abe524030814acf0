"""Home Assistant's verdict on MQTT discovery messages, in Home Assistant's own venv (ensure-homeassistant).

Reads one JSON object on stdin::

    {"prefix": "homeassistant", "configs": [[topic, payload], ...],
     "states": {state topic: [payload, ...]}, "availability": [payload, ...]}

and prints, per config, what Home Assistant makes of it: whether its discovery topic
matches (the integration's ``TOPIC_MATCHER``), the component, whether the payload passes
that component's ``DISCOVERY_SCHEMA`` (the error if not), the ``value_template`` rendered
against every payload of its state topic, and each availability template rendered for
every availability payload (``None`` where the config has none). Home Assistant code does
the reading, expanding abbreviations and rendering, exactly as the integration does on a
discovery message; nothing here re-implements it. Runs without a broker or a network.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from typing import Any

from homeassistant.components.mqtt import sensor
from homeassistant.components.mqtt.discovery import TOPIC_MATCHER, _replace_all_abbreviations
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame

SCHEMAS = {"sensor": sensor.DISCOVERY_SCHEMA}


def verdict(hass: HomeAssistant, request: dict[str, Any], topic: str, payload: str) -> dict[str, Any]:
    match = TOPIC_MATCHER.match(topic.removeprefix(request["prefix"] + "/"))
    result: dict[str, Any] = {"topic": topic, "matched": match is not None, "component": None, "error": None}
    if match is None:
        return result
    result["component"] = component = match.group("component")
    config = json.loads(payload)
    _replace_all_abbreviations(config)
    try:
        valid = SCHEMAS[component]({**config, "platform": "mqtt"})
    except Exception as e:  # the schema's verdict, reported to the test
        result["error"] = f"{type(e).__name__}: {e}"
        return result
    result["unique_id"] = valid.get("unique_id")
    result["device"] = {k: v for k, v in valid.get("device", {}).items() if isinstance(v, str | list)}
    result["values"] = [render(hass, valid.get("value_template"), p) for p in request["states"].get(
        valid["state_topic"], [])]
    result["availability"] = {
        entry["topic"]: [render(hass, entry.get("value_template"), p) for p in request["availability"]]
        for entry in valid.get("availability", [])
    }
    result["availability_mode"] = valid.get("availability_mode")
    return result


def render(hass: HomeAssistant, template: Any, payload: str) -> Any:
    if template is None:
        return payload
    template.hass = hass
    return template.async_render_with_possible_json_value(payload)


async def main() -> None:
    request = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as config_dir:
        hass = HomeAssistant(config_dir)
        frame.async_setup(hass)
        results = [verdict(hass, request, topic, payload) for topic, payload in request["configs"]]
        await hass.async_stop(force=True)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
