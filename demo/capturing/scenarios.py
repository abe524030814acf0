"""The scenarios of tests/captures/, and recording one of them into a capture file.

A capture runs in three phases:

1. *prepare* (not recorded): install the app and wait until it is settled;
2. *record*: start the recorder — the broker first delivers the retained snapshots and
   statuses, so the capture opens with the state of the world and a replay into an
   empty broker bootstraps its subscribers — then *act* (scale, roll out, kill…);
3. wait until settled again, keep a short quiet tail, stop.

A capture is written to a temporary file and renamed at the end, so a failed run never
leaves a half capture behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bus.captures import CaptureWriter, load_capture
from bus.connection import BrokerUnavailable
from bus.messages import utc_timestamp
from bus.recording import Recorder
from bus.urls import parse_broker_url
from demo.capturing.rig import PROCESS_TIMEOUT, CaptureFailed, Rig

RECORDED_TOPICS = ("nodes/#",)
YELLOW, VIOLET = "ffff00", "a81399"
V1, V2 = ("1.0.0", YELLOW), ("2.2.0", VIOLET)
QUIET_TAIL = 1.0  # real seconds recorded after settling: anything still on its way gets in

@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    speed: float  # cluster seconds per real second
    prepare: Callable[[Rig], None]
    act: Callable[[Rig], None]


def _install(replicas: int) -> Callable[[Rig], None]:
    return lambda rig: rig.run("install", V1, replicas)


def _scaling(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("scale", V1, 6)
    rig.settle()
    rig.hold(1.5)
    rig.run("scale", V1, 2)


def _rolling(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("rolling", V2, 9)


def _watcher_restart(rig: Rig) -> None:
    down = rig.cluster.nodes[1]
    rig.hold(1.0)
    rig.kill_watcher(down)
    rig.hold(1.0)
    rig.run("rolling", V2, 6)  # every pod of the node goes and new ones come while nobody watches
    rig.settle(skip=[down])
    rig.hold(1.0)
    rig.start_watcher(down)


def _canary(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("canary", V2, 6, pause_s=9.0)


def _blue_green(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("blue-green", V2, 6)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("scaling", "whoami 1 -> 6 -> 2 replicas, yellow, on 3 nodes", 2.0, _install(1), _scaling),
    Scenario("rolling-upgrade", "9 replicas rolled from 1.0.0 yellow to 2.2.0 violet (RollingUpdate 1/0)", 3.0,
             _install(9), _rolling),
    Scenario("watcher-restart", "node-2's watcher SIGKILLed, a rollout while it is down, then restarted", 4.0,
             _install(6), _watcher_restart),
    Scenario("canary", "canary whoamiv2 violet: 1 pod, pause, 6 pods, old release removed", 3.0, _install(6), _canary),
    Scenario("blue-green", "blue-green to whoamiv2 violet: 6 new pods, then the 6 old removed", 2.0, _install(6),
             _blue_green),
)}


# -- recording ---------------------------------------------------------------------------


def record(scenario: Scenario, out: Path, *, workdir: Path, speed_up: float = 1.0) -> None:
    """Make ``scenario``'s capture at ``out`` (replaced only when the whole capture succeeded).

    ``speed_up`` runs the cluster and the pauses that much faster than the scenario's own
    pace: a quick check that the generator works, not a capture for the demo.
    """
    partial = out.with_name(out.name + ".partial")
    try:
        with Rig(workdir, speed=scenario.speed * speed_up, seed=scenario.name, hold_scale=1 / speed_up) as rig:
            scenario.prepare(rig)
            rig.settle()
            _record_to(partial, rig, scenario)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)


def _record_to(path: Path, rig: Rig, scenario: Scenario) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        writer = CaptureWriter(stream, started=utc_timestamp(time.time()), topics=RECORDED_TOPICS)
        recorder = Recorder(parse_broker_url(rig.broker.url), topics=RECORDED_TOPICS, writer=writer)
        try:
            _record_scenario(rig, recorder, scenario)
        finally:
            recorder.stop()
    if recorder.error is not None:
        raise CaptureFailed(f"cannot write {path}: {recorder.error}")


def _record_scenario(rig: Rig, recorder: Recorder, scenario: Scenario) -> None:
    try:
        recorder.start(wait=10)
    except BrokerUnavailable as e:
        raise CaptureFailed(f"the recorder cannot connect: {e}") from e
    opening = 2 * len(rig.cluster.nodes)  # a snapshot and a status per node, retained
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while recorder.count < opening:
        if time.monotonic() > deadline:
            raise CaptureFailed(f"the recorder got {recorder.count} retained messages, expected {opening}")
        time.sleep(0.02)
    scenario.act(rig)
    rig.settle()
    rig.hold(QUIET_TAIL)


def describe(path: Path) -> str:
    capture = load_capture(path)
    duration = capture.messages[-1].offset if capture.messages else 0.0
    return f"{path.name}: {len(capture.messages)} messages, {path.stat().st_size / 1024:.1f} KiB, {duration:.1f} s"
