"""The buttons over a real PlanRunner and SimulatedExecutor, on a virtual clock (plans run in ms)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from console.controlling import ROLLOUTS, ActionFailed, Busy, ControlError, RunnerControls, run_message
from console.executors.cluster import ClusterExecutor
from console.executors.simulated import SimulatedExecutor
from console.messages import AbortingReply, PromotedReply, RunMessage
from console.plans import AppState, Plan, Scale, Target
from console.running import (
    Aborted,
    Finished,
    Log,
    Paused,
    PlanStarted,
    Resumed,
    RunEvent,
    StepDone,
    StepFailed,
    StepStarted,
    WeightsSet,
)
from console.strategies import build_plan
from sim.cluster import Cluster
from sim.lifecycle import is_terminating
from tests.support.clocks import FakeClock
from tests.support.waiting import Collector


class Recorder:
    """The browser's view of the run: every run message, as the JSON it is sent as."""

    def __init__(self) -> None:
        self.arrivals: Collector[dict[str, Any]] = Collector(lambda m: m["event"])

    def __call__(self, message: RunMessage) -> None:
        self.arrivals.add(json.loads(message.model_dump_json()))

    def clear(self) -> None:
        self.arrivals.clear()

    def events(self) -> list[str]:
        return [m["event"] for m in self.arrivals.items]

    def wait_for(self, event: str, timeout: float = 10) -> dict[str, Any]:
        seen = self.arrivals.wait_for(lambda ms: any(m["event"] == event for m in ms), timeout=timeout,
                                      what=f"a {event!r} message")
        return next(m for m in reversed(seen) if m["event"] == event)


Buttons = tuple[RunnerControls, Recorder, Cluster]


@pytest.fixture
def controls(clock: FakeClock) -> Iterator[Buttons]:
    cluster = Cluster(nodes=3)
    controls = RunnerControls(SimulatedExecutor(cluster), canary_weight=20, clock=clock)
    recorder = Recorder()
    controls.on_event(recorder)
    yield controls, recorder, cluster
    controls.runner.promote()
    controls.runner.wait(10)


def versions(cluster: Cluster) -> list[str]:
    return sorted(p["metadata"]["labels"]["version"] for p in cluster.store.select()[0])


def test_scale_on_an_empty_cluster_installs_the_chart_defaults(controls: Buttons) -> None:
    buttons, recorder, cluster = controls
    started = buttons.scale(4)
    assert started.strategy == "install"
    finished = recorder.wait_for("finished")
    assert finished["ok"] is True
    assert finished["controls"]["busy"] is False
    assert versions(cluster) == ["1.0.0"] * 4
    assert [w.model_dump() for w in buttons.weights()] == [
        {"release": "whoami", "weight": 100, "version": "1.0.0", "color": "ffff00"}
    ]
    assert recorder.events()[:2] == ["plan-started", "step-started"]


def test_rolling_takes_the_live_replica_count_and_the_target(controls: Buttons) -> None:
    buttons, recorder, cluster = controls
    buttons.scale(3)
    recorder.wait_for("finished")
    buttons.runner.wait(5)
    recorder.clear()
    buttons.strategy("rolling", version="2.0.0", color="#A81399")
    assert recorder.wait_for("finished")["ok"] is True
    buttons.runner.wait(5)
    cluster.advance(10)  # the old pods' grace period
    assert versions(cluster) == ["2.0.0"] * 3
    described = buttons.describe().model_dump()
    assert described["releases"][0] | {} == {"release": "whoami", "version": "2.0.0", "color": "a81399",
                                              "replicas": 3, "strategy": "rolling", "weight": 100}  # fmt: skip


def test_canary_pauses_until_promoted_and_busy_refuses_other_buttons(
    controls: Buttons,
) -> None:
    buttons, recorder, _ = controls
    buttons.scale(4)
    recorder.wait_for("finished")
    buttons.runner.wait(5)
    recorder.clear()
    buttons.strategy("canary", version="2.0.0", color="a81399")
    paused = recorder.wait_for("paused")
    assert paused["controls"]["paused"] is True
    weights = recorder.wait_for("weights-set")["weights"]
    assert [(w["release"], w["weight"]) for w in weights] == [("whoami", 80), ("whoamiv2", 20)]
    assert [w["version"] for w in weights] == ["1.0.0", "2.0.0"]  # the weights name what each release runs
    with pytest.raises(Busy, match="running"):
        buttons.strategy("rolling", version="3.0.0", color="00ff00")
    with pytest.raises(Busy):
        buttons.scale(2)
    assert buttons.promote() == PromotedReply()
    finished = recorder.wait_for("finished")
    assert (finished["ok"], finished["aborted"]) == (True, False)
    with pytest.raises(Busy, match="nothing is paused"):
        buttons.promote()


def test_abort_while_paused_goes_back(controls: Buttons) -> None:
    buttons, recorder, cluster = controls
    buttons.scale(2)
    recorder.wait_for("finished")
    buttons.runner.wait(5)
    recorder.clear()
    buttons.strategy("blue-green", version="2.0.0", color="a81399")
    recorder.wait_for("finished")
    buttons.runner.wait(5)
    recorder.clear()
    buttons.strategy("canary", version="3.0.0", color="00ff00")
    recorder.wait_for("paused")
    assert buttons.abort() == AbortingReply()
    finished = recorder.wait_for("finished")
    assert (finished["ok"], finished["aborted"]) == (True, True)
    buttons.runner.wait(5)
    with pytest.raises(Busy, match="nothing to abort"):
        buttons.abort()
    cluster.advance(10)
    assert versions(cluster) == ["2.0.0"] * 2


@pytest.mark.parametrize(
    ("name", "version", "color", "message"),
    [
        ("sideways", "2.0.0", "a81399", "strategy"),
        ("rolling", "2 0", "a81399", "version"),
        ("rolling", "2.0.0", "purple", "color"),
        ("rolling", "1.0.0", "ffff00", "nothing to roll out"),
    ],
)
def test_bad_requests_are_control_errors_and_start_nothing(
    controls: Buttons, name: str, version: str, color: str, message: str
) -> None:
    buttons, recorder, _ = controls
    buttons.scale(2)
    recorder.wait_for("finished")
    buttons.runner.wait(5)
    before = len(recorder.arrivals.items)
    with pytest.raises(ControlError, match=message):
        buttons.strategy(name, version=version, color=color)
    assert len(recorder.arrivals.items) == before
    assert buttons.runner.busy is False


def test_strategies_need_something_deployed(controls: Buttons) -> None:
    buttons, _, _ = controls
    with pytest.raises(ControlError, match="nothing is deployed"):
        buttons.strategy("rolling", version="2.0.0", color="a81399")
    with pytest.raises(ControlError, match="replicas"):
        buttons.scale(1000)


def test_a_step_event_is_a_run_message_with_the_steps_description() -> None:
    message = run_message(StepStarted(2, Scale("whoami", 5)), AppState())
    assert json.loads(message.model_dump_json()) == {
        "type": "run", "event": "step-started", "index": 2, "kind": "scale",
        "step": "scale release whoami to 5 replicas", "error": None, "controls": None,
    }  # fmt: skip


EVERY_EVENT: list[RunEvent] = [
    PlanStarted(Plan("scale", (Scale("whoami", 5),), AppState())),
    StepStarted(0, Scale("whoami", 5)), StepDone(0, Scale("whoami", 5)), StepFailed(0, Scale("whoami", 5), "boom"),
    WeightsSet("whoami", (("whoami", 90), ("whoamiv2", 10))), Paused(3, None), Resumed(3, True), Log("$ helm"),
    Aborted(4), Finished(ok=True, aborted=False, state=AppState()),
]  # fmt: skip


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
def test_every_runner_event_has_its_own_run_message(event: RunEvent) -> None:
    encoded = json.loads(run_message(event, AppState()).model_dump_json())
    assert encoded["type"] == "run"
    kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in type(event).__name__).lstrip("-")
    assert encoded["event"] == kebab


def test_weights_name_the_version_and_colour_of_each_release() -> None:
    state = build_plan("install", AppState(), Target("1.0.0", "ffff00", 3)).end_state()
    message = run_message(WeightsSet("whoami", (("whoami", 95), ("whoamiv2", 5))), state)
    assert [w.model_dump() for w in message.weights] == [  # type: ignore[union-attr]
        {"release": "whoami", "weight": 95, "version": "1.0.0", "color": "ffff00"},
        {"release": "whoamiv2", "weight": 5, "version": None, "color": None},
    ]


def settled(buttons: RunnerControls, recorder: Recorder) -> None:
    recorder.wait_for("finished")
    assert buttons.runner.wait(5)
    recorder.clear()


def test_the_controls_say_which_buttons_cannot_act_and_why(controls: Buttons) -> None:
    buttons, recorder, _ = controls
    empty = buttons.describe()
    assert empty.live is None and "scale" not in empty.blocked  # Scale installs the demo app
    assert all("nothing is deployed" in empty.blocked[name] for name in ROLLOUTS)
    assert "nothing is paused" in empty.blocked["promote"] and "nothing to abort" in empty.blocked["abort"]
    buttons.scale(2)
    settled(buttons, recorder)
    idle = buttons.describe()
    assert idle.live == "whoami" and set(idle.blocked) == {"promote", "abort"}
    assert [(r.release, r.weight) for r in idle.releases] == [("whoami", 100)]
    buttons.strategy("canary", version="2.0.0", color="a81399")
    paused = recorder.wait_for("paused")["controls"]
    assert set(paused["blocked"]) == {"scale", *ROLLOUTS}  # promote and abort can act
    assert all("running" in reason for reason in paused["blocked"].values())
    assert [(r["release"], r["weight"]) for r in paused["releases"]] == [("whoami", 80), ("whoamiv2", 20)]
    buttons.promote()
    finished = recorder.wait_for("finished")["controls"]
    assert finished["live"] == "whoamiv2" and set(finished["blocked"]) == {"promote", "abort"}


def test_a_double_click_is_one_plan_and_no_error(controls: Buttons, clock: FakeClock) -> None:
    buttons, recorder, _ = controls
    first = buttons.scale(2)
    again = buttons.scale(2)  # the plan may run or be done already: either way, the same request
    assert (first.already_running, again.already_running) == (False, True)
    assert again.steps == first.steps
    settled(buttons, recorder)
    started = buttons.strategy("rolling", version="2.0.0", color="a81399")
    recorder.wait_for("finished")  # on a virtual clock the rollout is over at once
    assert buttons.strategy("rolling", version="2.0.0", color="#A81399").already_running  # same request
    assert [m["event"] for m in recorder.arrivals.items].count("plan-started") == 1
    assert started.strategy == "rolling"
    clock.advance(5)  # a deliberate second click, later: refused as it always was
    buttons.runner.wait(5)
    with pytest.raises(ControlError, match="nothing to roll out"):
        buttons.strategy("rolling", version="2.0.0", color="a81399")


def test_kill_a_pod_deletes_it_gracefully_and_its_replicaset_replaces_it(controls: Buttons) -> None:
    buttons, recorder, cluster = controls
    buttons.scale(3)
    settled(buttons, recorder)
    before = {p["metadata"]["name"] for p in cluster.store.select()[0]}
    victim = sorted(before)[0]
    buttons.kill(victim, namespace="default")
    pods = {p["metadata"]["name"]: p for p in cluster.store.select()[0]}
    assert is_terminating(pods[victim])  # graceful: it blinks before it goes
    assert len(set(pods) - before) == 1  # the replacement is there already
    assert [m["line"] for m in recorder.arrivals.items] == [
        f"kill a pod: delete pod {victim} in default (its ReplicaSet replaces it)", f'pod "{victim}" deleted']
    assert all(m["controls"]["live"] == "whoami" for m in recorder.arrivals.items)
    cluster.advance(30)
    after = {p["metadata"]["name"] for p in cluster.store.select()[0]}
    assert victim not in after and len(after) == 3


def test_kill_a_pod_runs_beside_a_plan(controls: Buttons) -> None:
    buttons, recorder, cluster = controls
    buttons.scale(2)
    settled(buttons, recorder)
    buttons.strategy("canary", version="2.0.0", color="a81399")
    recorder.wait_for("paused")
    victim = next(p["metadata"]["name"] for p in cluster.store.select()[0] if "whoamiv2" in p["metadata"]["name"])
    buttons.kill(victim, namespace=None)
    assert buttons.runner.paused  # the canary waits on, unharmed
    buttons.promote()
    assert recorder.wait_for("finished")["ok"] is True


@pytest.mark.parametrize(("pod", "error", "message"), [("whoami-nope-xxxxx", ActionFailed, "not found"),
                                                        ("Bad_Name", ControlError, "Kubernetes name")])
def test_a_pod_that_cannot_be_killed_is_a_clear_error(controls: Buttons, pod: str, error: type[Exception],
                                                      message: str) -> None:  # fmt: skip
    buttons, _, _ = controls
    with pytest.raises(error, match=message):
        buttons.kill(pod, namespace=None)


def test_kill_a_pod_on_a_cluster_is_kubectl_delete_pod_without_waiting() -> None:
    out = io.StringIO()
    buttons = RunnerControls(ClusterExecutor("./whoami/", namespace="demo", dry_run=True, out=out))
    buttons.kill("whoami-6d9f-x2x7q", namespace=None)
    buttons.kill("whoami-6d9f-abcde", namespace="other")  # the namespace the watcher reported wins
    assert out.getvalue().splitlines() == [
        "kubectl delete pod whoami-6d9f-x2x7q --wait=false --namespace demo",
        "kubectl delete pod whoami-6d9f-abcde --wait=false --namespace other",
    ]
