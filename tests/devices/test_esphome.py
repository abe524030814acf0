"""The ESPHome example parses, and its ids, topics, secrets and timings fit together.

It cannot be compiled here (that needs ESPHome's toolchain download); these checks catch
what breaks such a file most often: a typo in an id, a topic off the contract, a secret
missing from the example secrets, an unbalanced lambda, drift from the agent's rendering.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bus.messages import PodState
from bus.topics import Topics
from led_agent.rendering import BLINK_HZ, OVERFLOW_PERIOD, PENDING_LEVEL, PULSE_PERIOD

ESPHOME_DIR = Path(__file__).resolve().parents[2] / "devices" / "esphome"


class Tagged(str):
    """A scalar under one of ESPHome's tags; remembers the tag."""

    tag = ""


class EsphomeLoader(yaml.SafeLoader):
    """PyYAML plus ESPHome's tags (``!secret``, ``!lambda``, ``!include``, …) kept as tagged strings."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tagged:
    value = Tagged(loader.construct_scalar(node))  # type: ignore[arg-type]
    value.tag = node.tag
    return value


for _tag in ("!secret", "!lambda", "!include", "!extend", "!remove"):
    EsphomeLoader.add_constructor(_tag, _tagged)


def load(name: str) -> Any:
    return yaml.load((ESPHOME_DIR / name).read_text(), Loader=EsphomeLoader)


def substituted(config: dict[str, Any]) -> dict[str, Any]:
    """ESPHome's ``${var}`` substitution, for the plain strings of the file."""
    subs = {k: str(v) for k, v in config["substitutions"].items()}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and not isinstance(value, Tagged):
            return re.sub(r"\$\{(\w+)\}", lambda m: subs[m.group(1)], value)
        return value

    return walk(config)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return substituted(load("shinealight-strip.yaml"))


def lambdas(config: dict[str, Any]) -> list[str]:
    snapshot = config["mqtt"]["on_json_message"][0]["then"][0]["lambda"]
    effect = config["light"][0]["effects"][0]["addressable_lambda"]["lambda"]
    return [snapshot, effect]


def test_it_subscribes_to_the_snapshot_of_its_node(config: dict[str, Any]) -> None:
    message = config["mqtt"]["on_json_message"][0]
    assert message["topic"] == Topics("").state("node-1") and message["qos"] == 1


def test_its_status_is_the_contracts_agent_status(config: dict[str, Any]) -> None:
    status = Topics("").agent_status(config["esphome"]["name"])
    assert config["mqtt"]["birth_message"] == {"topic": status, "payload": "online", "retain": True}
    assert config["mqtt"]["will_message"] == {"topic": status, "payload": "offline", "retain": True}


def test_ids_and_effect_names_refer_to_what_is_declared(config: dict[str, Any]) -> None:
    declared = {g["id"] for g in config["globals"]} | {light["id"] for light in config["light"]}
    used = {name for code in lambdas(config) for name in re.findall(r"\bid\((\w+)\)", code)}
    assert used and used <= declared
    boot = config["esphome"]["on_boot"]["then"][0]["light.turn_on"]
    effects = {e["addressable_lambda"]["name"] for e in config["light"][0]["effects"]}
    assert boot["id"] in declared and boot["effect"] in effects


def test_every_secret_is_in_the_example_secrets() -> None:
    text = (ESPHOME_DIR / "shinealight-strip.yaml").read_text()
    secrets = load("secrets.example.yaml")
    assert set(re.findall(r"!secret (\w+)", text)) == set(secrets)


@pytest.mark.parametrize("index", [0, 1])
def test_lambdas_are_balanced(config: dict[str, Any], index: int) -> None:
    code = re.sub(r'"(?:\\.|[^"\\])*"|//[^\n]*', "", lambdas(config)[index])  # drop strings and comments
    for opening, closing in ("{}", "()", "[]"):
        assert code.count(opening) == code.count(closing), (opening, code)


def test_states_and_timings_follow_the_agent(config: dict[str, Any]) -> None:
    snapshot, effect = lambdas(config)
    assert all(f'"{state.value}"' in snapshot for state in PodState if state is not PodState.READY)
    assert f"c * {round(255 * PENDING_LEVEL)}" in effect
    assert f"now / {round(1000 / BLINK_HZ / 2)}" in effect
    assert f"now % {round(PULSE_PERIOD * 1000)}" in effect
    assert f"now / {round(OVERFLOW_PERIOD * 1000 / 2)}" in effect


def test_the_loader_is_not_lenient() -> None:
    """Broken YAML still fails: the tags are known, nothing else is."""
    with pytest.raises(yaml.YAMLError):
        yaml.load("a: !unknown_tag x\n", Loader=EsphomeLoader)
    with pytest.raises(yaml.YAMLError):
        yaml.load("a: [1, 2\n", Loader=EsphomeLoader)
