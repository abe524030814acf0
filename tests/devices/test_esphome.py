"""The ESPHome example: ESPHome itself accepts it without a warning, its rules (``shinealight.h``)
compiled here draw the agent's frames, and its topics, ids and secrets fit the contract.

``esphome config`` runs from a venv of its own (``devices/esphome/ensure-esphome``, built on
first use and cached: ESPHome pins its own paho-mqtt); skipped, saying why, only when that
venv cannot be built. Compiling the firmware needs ESPHome's toolchain download (PlatformIO,
ESP-IDF), which this machine cannot fetch: the C++ of ``shinealight.h`` is compiled with the
host's g++ instead and fed every node's snapshots of every capture.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bus.captures import load_capture
from bus.messages import NodeSnapshot
from bus.ordering import NodeList
from bus.topics import Topics
from led_agent.rendering import RED, Frame, Scene, render
from tests.devices.reference import dimmed, stale_level
from tests.support.paths import ROOT
from tests.support.streams import NAMES, capture_path, node_streams

ESPHOME_DIR = ROOT / "devices" / "esphome"
DRIVER = Path(__file__).resolve().parent / "esphome_strip.cpp"
CONFIGS = ("shinealight-strip.yaml", "with-api.yaml")
LEDS = 8


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


# -- ESPHome accepts it ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def esphome() -> str:
    built = subprocess.run([str(ESPHOME_DIR / "ensure-esphome")], capture_output=True, text=True, timeout=900,
                           check=False)  # fmt: skip
    if built.returncode != 0:
        reason = built.stderr.strip().splitlines()[-1] if built.stderr.strip() else "no reason given"
        print(f"ESPHome venv could not be built: {reason}")
        pytest.skip(f"ESPHome venv could not be built: {reason}")
    return built.stdout.strip()


@pytest.mark.parametrize("name", CONFIGS)
def test_esphome_accepts_the_config_without_a_warning(esphome: str, name: str, tmp_path: Path) -> None:
    for path in ESPHOME_DIR.iterdir():
        if path.suffix in (".yaml", ".h"):
            shutil.copy(path, tmp_path / path.name)
    shutil.copy(ESPHOME_DIR / "secrets.example.yaml", tmp_path / "secrets.yaml")
    done = subprocess.run([esphome, "config", name], capture_output=True, text=True, timeout=180, cwd=tmp_path,
                          check=False)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Configuration is valid!" in output, output
    assert not [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))], output


def test_esphome_is_not_lenient(esphome: str, tmp_path: Path) -> None:
    """The check can fail: a deprecated option is a warning, a missing secret an error."""
    (tmp_path / "secrets.yaml").write_text("wifi_ssid: x\n")
    text = (ESPHOME_DIR / "shinealight-strip.yaml").read_text().replace("channel_colors: GRB", "rgb_order: GRB")
    (tmp_path / "strip.yaml").write_text(text)
    shutil.copy(ESPHOME_DIR / "shinealight.h", tmp_path / "shinealight.h")
    done = subprocess.run([esphome, "config", "strip.yaml"], capture_output=True, text=True, timeout=180,
                          cwd=tmp_path, check=False)  # fmt: skip
    assert done.returncode != 0 and "wifi_password" in done.stdout + done.stderr


# -- on the bus -----------------------------------------------------------------------------


def test_it_follows_the_snapshot_and_status_of_its_node(config: dict[str, Any]) -> None:
    mqtt, topics = config["mqtt"], Topics("")
    assert [(m["topic"], m["qos"]) for m in mqtt["on_json_message"]] == [(topics.state("node-1"), 1)]
    assert [(m["topic"], m["qos"]) for m in mqtt["on_message"]] == [(topics.status("node-1"), 1)]


def test_it_is_an_agent_of_the_contract(config: dict[str, Any]) -> None:
    """Client id = agent id; status retained, QoS 1, with a last will; it publishes under agents/<id>/ only."""
    name, mqtt = config["esphome"]["name"], config["mqtt"]
    status = Topics("").agent_status(name)
    for key, payload in (("birth_message", "online"), ("will_message", "offline"), ("shutdown_message", "offline")):
        assert mqtt[key] == {"topic": status, "payload": payload, "qos": 1, "retain": True}
    assert mqtt["client_id"] == name and mqtt["topic_prefix"] == f"agents/{name}" and mqtt["log_topic"] is None


def test_ids_and_effect_names_refer_to_what_is_declared(config: dict[str, Any]) -> None:
    declared = {g["id"] for g in config["globals"]} | {light["id"] for light in config["light"]}
    code = [m["then"][0]["lambda"] for m in config["mqtt"]["on_json_message"] + config["mqtt"]["on_message"]]
    code.append(config["light"][0]["effects"][0]["addressable_lambda"]["lambda"])
    used = {name for text in code for name in re.findall(r"\bid\((\w+)\)", text)}
    assert used and used <= declared
    boot = config["esphome"]["on_boot"]["then"][0]["light.turn_on"]
    effects = {e["addressable_lambda"]["name"] for e in config["light"][0]["effects"]}
    assert boot["id"] in declared and boot["effect"] in effects
    assert config["esphome"]["includes"] == ["shinealight.h"] and config["globals"][0]["type"] == "shinealight::Strip"


def test_every_secret_is_in_the_example_secrets() -> None:
    used = {s for name in CONFIGS for s in re.findall(r"!secret (\w+)", (ESPHOME_DIR / name).read_text())}
    assert used == set(load("secrets.example.yaml"))


def test_colours_are_the_frames_own(config: dict[str, Any]) -> None:
    """No gamma curve of ESPHome's own: the frame's colours, as every other device shows them."""
    assert config["light"][0]["gamma_correct"] == 1.0


# -- its rules, compiled here -----------------------------------------------------------------


@dataclass
class StripDriver:
    """``esphome_strip.cpp`` around ``shinealight.h``, built with the host's g++."""

    binary: Path

    def run(self, commands: list[str]) -> list[str]:
        done = subprocess.run([str(self.binary)], input="\n".join(commands) + "\n", capture_output=True, text=True,
                              timeout=60, check=True)  # fmt: skip
        return done.stdout.splitlines()


@pytest.fixture(scope="module")
def strip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripDriver]:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.fail("g++ is missing: apt-get install g++")
    binary = tmp_path_factory.mktemp("esphome") / "strip"
    subprocess.run([compiler, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1", "-I", str(ESPHOME_DIR),
                    str(DRIVER), "-o", str(binary)], check=True, timeout=120)  # fmt: skip
    yield StripDriver(binary)


def snapshot_commands(snapshot: NodeSnapshot, now: int) -> list[str]:
    pods = ["\t".join(["pod", p.uid or "-", p.namespace or "-", p.pod, p.color or "-", p.state or "ready"])
            for p in snapshot.pods]  # fmt: skip
    return ["\t".join(["snapshot", str(now), str(snapshot.seq), snapshot.epoch or "-"]), *pods, "end"]


@pytest.mark.parametrize("node", ["node-1", "node-2", "node-3"])
@pytest.mark.parametrize("name", NAMES)
def test_it_draws_what_the_agent_draws_from_the_snapshots(strip: StripDriver, name: str, node: str) -> None:
    """Every 10 ms through the capture, as the agent would from the snapshots alone (snapshots
    taken on the 10 ms grid, frames drawn 5 ms later)."""
    stream = node_streams(load_capture(capture_path(name)))[node]
    model, scene, stale, commands, expected = NodeList(), Scene(), False, [], []
    end = round(stream[-1].offset * 1000) + 1500
    messages = iter(stream)
    message = next(messages, None)
    for now in range(0, end, 10):
        while message is not None and round(message.offset * 1000) <= now:
            if isinstance(message.item, NodeSnapshot):
                commands += snapshot_commands(message.item, now)
                outcome = model.apply_snapshot(message.item)
                scene.apply(outcome.changes, live_count=len(model.entries), now=now / 1000)
                expected.append("taken" if outcome.applied else "ignored")
            elif isinstance(message.item, bytes):
                stale = message.item in (b"offline", b"degraded")
                commands.append(f"status\t{int(stale)}")
            message = next(messages, None)
        at = now + 5  # between phase boundaries (multiples of 10 ms), where ms and float seconds agree
        frame: Frame = render(model.entries, scene, leds=LEDS, now=at / 1000)
        commands.append(f"frame\t{at}\t{LEDS}")
        expected.append(" ".join(dimmed(frame, stale_level(at)) if stale else frame))
    answers = strip.run(commands)
    mismatches = [(i, a, e) for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if a != e]
    assert not mismatches, mismatches[:3]
    assert any(RED in line for line in answers), "every capture removes pods on every node"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("#A81399", "a81399"), ("#FFF", "ffffff"), ("FFFF00", "ffff00"), (" ffff00 ", "ffff00"), ("red", "0000ff"),
     ("12345", "0000ff"), ("#12345g", "0000ff"), ("-", "0000ff")],
)
def test_colours_are_normalised_as_the_contract_says(strip: StripDriver, raw: str, shown: str) -> None:
    assert strip.run([f"color\t{raw}"]) == [shown]


def pods(*rows: str) -> list[str]:
    return [f"pod\tuid-{r}\tdefault\t{r}\tffff00\tready" if "\t" not in r else r for r in rows]


@pytest.mark.parametrize(
    ("second", "verdict"),
    [
        (["snapshot\t100\t4\te1", *pods("a"), "end"], "ignored"),  # older than the last, same epoch
        (["snapshot\t100\t4\te2", *pods("a"), "end"], "taken"),  # a new watcher: its seq may be lower
        (["snapshot\t100\t4\t-", *pods("a"), "end"], "ignored"),  # no epoch never means a new one
        (["snapshot\t100\t5\te1", *pods("a", "pod\tu\tdefault\tb\tffff00\tsleepy"), "end"], "ignored"),  # bad state
        (["snapshot\t100\t5\te1", *pods("a", "pod\tu\tdefault\t-\tffff00\tready"), "end"], "ignored"),  # no name
        (["snapshot\t100\t5\te1", *pods("a", "a"), "end"], "taken"),  # a duplicate keeps its first place
    ],
)
def test_snapshots_follow_the_subscriber_rules(strip: StripDriver, second: list[str], verdict: str) -> None:
    first = ["snapshot\t0\t5\te1", *pods("a", "b"), "end"]
    answers = strip.run([*first, *second, "frame\t2000\t4"])
    assert answers[:2] == ["taken", verdict]
    assert answers[2] == ("ffff00 000000 000000 000000" if verdict == "taken" else "ffff00 ffff00 000000 000000")
