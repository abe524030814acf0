"""The browser page's rules (``devices/browser/lights.js``) under Node.js, against the agent's core.

Hundreds of random message streams for one node (events and snapshots, sequenced or not,
two epochs, colours and states, bad input) go through ``lights.js`` in one Node process
and through ``bus.ordering`` + ``led_agent.rendering`` here; the lists, the resyncs asked
for and the frames at random later times must be the same.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

from bus.messages import BadMessage, NodeSnapshot, decode_event, decode_snapshot
from bus.ordering import NodeList
from led_agent.rendering import Scene, render
from tests.devices.micropython import node

DRIVER = Path(__file__).resolve().parent / "lights_driver.js"
LEDS = 4
STREAMS = 400
GARBAGE = ["{nope", "[1]", '{"v":2,"action":"add","pod":"x"}', '{"action":"explode","pod":"x"}',
           '{"action":"add","pod":""}', '{"action":"add","pod":"x","seq":-1}', '{"action":"add","pod":"x","node":"n2"}',
           '{"node":"n1","pods":[]}', '{"node":"n1","seq":3,"pods":{"pod":"x"}}', '{"node":"n2","seq":3,"pods":[]}']


def pod(rng: random.Random) -> dict[str, Any]:
    name = rng.choice("abcdef")
    data: dict[str, Any] = {"pod": name, "namespace": "default", "uid": f"uid-{name}"}
    if (color := rng.choice([None, "ff0000", "#0F0", "00ff00", "nope"])) is not None:
        data["color"] = color
    if (state := rng.choice([None, "pending", "ready", "unready", "terminating"])) is not None:
        data["state"] = state
    return data


def message(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.08:
        payload = rng.choice(GARBAGE)
        return ("nodes/n1/state" if '"pods"' in payload else "nodes/n1/pods"), payload
    epoch = rng.choice([None, "e1", "e2"])
    if roll < 0.3:
        pods = [pod(rng) for _ in range(rng.randint(0, 6))]
        data = {"v": 1, "node": "n1", "seq": rng.randint(0, 12), "pods": pods} | ({"epoch": epoch} if epoch else {})
        return "nodes/n1/state", json.dumps(data)
    event = {"action": rng.choice(["add", "update", "remove"]), **pod(rng), "node": "n1"}
    if (seq := rng.choice([None, *range(13)])) is not None:
        event["seq"] = seq
    return "nodes/n1/pods", json.dumps(event | ({"epoch": epoch} if epoch else {}))


def stream(rng: random.Random) -> dict[str, Any]:
    now, messages = 0, []
    for _ in range(rng.randint(1, 25)):
        now += rng.randint(0, 400)
        messages.append([now, *message(rng)])
    probes = sorted(now + rng.randint(0, 3000) + 0.5 for _ in range(rng.randint(1, 5)))  # off phase boundaries
    return {"node": "n1", "leds": LEDS, "messages": messages, "probes": probes}


def agent(spec: dict[str, Any]) -> dict[str, Any]:
    """What the agent's core makes of the stream (as bus.intake feeds it: wrong nodes are bad input)."""
    model, scene, resyncs = NodeList(), Scene(), []
    for at, topic, payload in spec["messages"]:
        resync = False
        try:
            item = decode_snapshot(payload.encode()) if topic.endswith("/state") else decode_event(payload.encode())
        except BadMessage:
            item = None
        if item is not None and item.node in (None, "n1"):
            outcome = model.apply_snapshot(item) if isinstance(item, NodeSnapshot) else model.apply_event(item)
            scene.apply(outcome.changes, live_count=len(model.entries), now=at / 1000)
            resync = outcome.resync
        resyncs.append(resync)
    frames = [list(render(model.entries, scene, leds=LEDS, now=at / 1000)) for at in spec["probes"]]
    return {"frames": frames, "resyncs": resyncs, "keys": model.keys()}


def test_lights_js_lists_resyncs_and_frames_match_the_agent(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    specs = [stream(rng) for _ in range(STREAMS)]
    (tmp_path / "streams.json").write_text(json.dumps(specs))
    done = subprocess.run([node(), str(DRIVER), str(tmp_path / "streams.json")], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    results = json.loads(done.stdout)
    compared = 0
    for spec, theirs in zip(specs, results, strict=True):
        mine = agent(spec)
        if theirs["frames"][0] is None:  # the page never saw a valid message for n1: no row
            assert mine["keys"] == [] and not any(mine["resyncs"]), spec
            continue
        resyncs = [r == "n1" for r in theirs["resyncs"]]
        # the page paces resyncs (at most one per 2 s while one is pending); the agent's core asks every time
        assert all(mine["resyncs"][i] for i, r in enumerate(resyncs) if r), spec
        assert theirs["keys"] == mine["keys"], spec
        assert theirs["frames"] == mine["frames"], spec
        compared += 1
    assert compared > STREAMS * 0.8
