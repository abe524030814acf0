"""The cluster executor: the exact command lines of every strategy (golden files, compared
exactly), and real runs against fake ``helm`` and ``kubectl`` on PATH that record their argv.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1`` and read
the diff before committing it.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.executors.cluster import ClusterExecutor
from console.executors.commands import CommandConfig, commands
from console.plans import AppState, EnsureRoute, Plan, Release, StrategyName, Target, Upgrade, Values
from console.running import Log, Paused, RunEvent, StepFailed, StepStarted
from console.strategies import build_plan
from tests.console.runs import V2, WAIT_S, Recorder, abort_once, make_runner

GOLDEN = Path(__file__).parents[1] / "golden"
V1_VALUES = Values("ffff00", "1.0.0", "rolling", 3)
START = AppState((Release("whoami", V1_VALUES),), (("whoami", 100),))
AFTER_BLUE_GREEN = AppState((Release("whoamiv2", Values("a81399", "2.2.0", "rolling", 3)),), (("whoamiv2", 100),))


@dataclass(frozen=True)
class Case:
    name: str
    strategy: StrategyName
    target: Target
    start: AppState = START
    options: tuple[tuple[str, object], ...] = ()
    executor: tuple[tuple[str, object], ...] = ()
    abort_when: Callable[[RunEvent], bool] | None = None

    def plan(self) -> Plan:
        return build_plan(self.strategy, self.start, self.target, **dict(self.options))  # type: ignore[arg-type]


def _delete_started(event: RunEvent) -> bool:
    return isinstance(event, StepStarted) and type(event.step).__name__ == "Delete"


CASES = [
    Case("install", "install", Target("1.0.0", "ffff00", 3), start=AppState()),
    Case("scale", "scale", Target("1.0.0", "ffff00", 5)),
    Case("rolling", "rolling", V2),
    Case("recreate", "recreate", V2),
    Case("blue-green", "blue-green", V2),
    Case("blue-green-back", "blue-green", Target("3.0.0", "00ff00", 4), start=AFTER_BLUE_GREEN),
    Case("canary", "canary", V2),
    Case(
        "canary-traefik-namespace",
        "canary",
        Target("2.2.0", "a81399", 4),
        options=(("pause_s", 30.0), ("canary_weight", 10)),
        executor=(("route_kind", "traefik"), ("namespace", "demo"), ("chart_dir", "helm/whoami")),
    ),
    Case(
        "install-traefik-namespace",
        "install",
        Target("1.0.0", "ffff00", 2),
        start=AppState(),
        executor=(("route_kind", "traefik"), ("namespace", "demo"), ("chart_dir", "helm/whoami")),
    ),
    Case("abort-canary", "canary", V2, abort_when=lambda e: isinstance(e, Paused)),
    Case("abort-blue-green", "blue-green", V2, abort_when=_delete_started),
    Case("abort-rolling", "rolling", V2, abort_when=lambda e: isinstance(e, StepStarted) and e.index == 1),
]


def run_case(case: Case, executor: ClusterExecutor) -> Recorder:
    runner, recorder = make_runner(executor, case.start)
    if case.abort_when is not None:
        recorder.reactions.append(abort_once(case.abort_when))
    runner.start(case.plan())
    assert runner.wait(WAIT_S)
    assert runner.listener_errors == 0
    return recorder


def dry_run(case: Case) -> str:
    out = io.StringIO()
    recorder = run_case(case, ClusterExecutor(dry_run=True, out=out, **dict(case.executor)))  # type: ignore[arg-type]
    assert recorder.finished().ok and recorder.finished().aborted == (case.abort_when is not None)
    return out.getvalue()


def golden(case: Case) -> str:
    path = GOLDEN / f"{case.name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(dry_run(case))
    return path.read_text()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dry_run_prints_exactly_the_golden_commands(case: Case) -> None:
    assert dry_run(case) == golden(case)


def test_the_golden_files_carry_the_seeds_commands() -> None:
    """The issue's commands, verbatim, so a change to the golden files cannot drop them."""
    assert "helm upgrade whoami --reuse-values --set replicaCount=5 ./whoami/ --wait\n" in golden(CASES[1])
    assert "helm upgrade whoami --reuse-values --set color=A81399 --set version=2.2.0 ./whoami/\n" in golden(CASES[2])
    recreate = "helm upgrade whoami --reuse-values --set color=A81399 --set version=2.2.0 --set strategy=recreate"
    assert f"{recreate} ./whoami/\n" in golden(CASES[3])
    assert "helm uninstall whoami --wait\n" in golden(CASES[4])


def test_values_helm_would_read_as_numbers_are_sent_as_strings() -> None:
    step = Upgrade("whoami", Values(color="001122", version="10", replica_count=2))
    assert commands(step, CommandConfig()) == [
        ["helm", "upgrade", "whoami", "--reuse-values", "--set-string", "color=001122",
         "--set-string", "version=10", "--set", "replicaCount=2", "./whoami/"],
    ]  # fmt: skip


def test_the_route_chart_sits_next_to_the_apps_chart_unless_given() -> None:
    step = EnsureRoute("whoami", (("whoami", 95), ("whoamiv2", 5)))
    charts = {
        "./whoami/": "./whoami-route/",
        "./helm/whoami/": "./helm/whoami-route/",
        "/srv/charts/whoami": "/srv/charts/whoami-route",
    }
    for chart, route_chart in charts.items():
        (argv,) = ClusterExecutor(chart, dry_run=True).commands(step)
        assert argv[:5] == ["helm", "upgrade", "--install", "whoami-route", route_chart]
    (argv,) = ClusterExecutor(route_chart_dir=Path("/opt/route"), service_port=8080).commands(step)
    assert argv[4] == "/opt/route"
    assert argv[-2:] == [
        "--set-json",
        'backends=[{"name":"whoami","port":8080,"weight":95},{"name":"whoamiv2","port":8080,"weight":5}]',
    ]


# --- Against fake helm and kubectl ------------------------------------------------------

FAKE_TOOL = """#!{python}
import json, os, sys, time
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_TOOLS_LOG"], "a") as log:
    log.write(json.dumps([name, *sys.argv[1:]]) + "\\n")
line = " ".join([name, *sys.argv[1:]])
if os.environ.get("FAKE_TOOLS_FAIL", "\\0") in line:
    print("uninstall: starting")
    print("Error: uninstallation completed with 1 error(s): timed out waiting for the condition", file=sys.stderr)
    sys.exit(1)
if os.environ.get("FAKE_TOOLS_HANG", "\\0") in line:
    time.sleep(60)
if sys.argv[1:3] == ["rollout", "status"]:
    print('deployment "%s" successfully rolled out' % sys.argv[3].split("/")[1])
"""


@dataclass
class FakeTools:
    log: Path
    monkeypatch: pytest.MonkeyPatch

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def fail_on(self, text: str) -> None:
        self.monkeypatch.setenv("FAKE_TOOLS_FAIL", text)

    def hang_on(self, text: str) -> None:
        self.monkeypatch.setenv("FAKE_TOOLS_HANG", text)


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("helm", "kubectl"):
        path = bin_dir / tool
        path.write_text(FAKE_TOOL.format(python=sys.executable))
        path.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TOOLS_LOG", str(log))
    return FakeTools(log, monkeypatch)


def golden_argvs(case: Case) -> list[list[str]]:
    return [shlex.split(line) for line in golden(case).splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_real_run_calls_helm_and_kubectl_exactly_as_the_dry_run_prints(fake_tools: FakeTools, case: Case) -> None:
    runner_case = case
    if case.abort_when is None and case.strategy == "canary":  # no one to promote: promote at once
        runner_case = Case(**{**case.__dict__, "options": (*case.options, ("pause_s", 0.0))})
    executor = ClusterExecutor(**dict(case.executor))  # type: ignore[arg-type]
    assert executor.missing_tools() == []
    recorder = run_case(runner_case, executor)
    assert recorder.finished().ok, recorder.of(StepFailed)
    assert fake_tools.calls() == golden_argvs(case)
    logged = [e.line for e in recorder.of(Log)]
    assert logged[0] == "$ " + shlex.join(golden_argvs(case)[0])
    assert any(line.endswith("successfully rolled out") for line in logged)


def test_a_failing_command_fails_its_step_with_the_command_and_stderr_then_abort_undoes(
    fake_tools: FakeTools,
) -> None:
    fake_tools.fail_on("helm uninstall whoami --wait")
    runner, recorder = make_runner(ClusterExecutor(), START)
    runner.start(build_plan("blue-green", START, V2))
    assert runner.wait(WAIT_S)
    (failed,) = recorder.of(StepFailed)
    assert failed.index == 3
    assert failed.error == (
        "`helm uninstall whoami --wait` exited with 1: "
        "Error: uninstallation completed with 1 error(s): timed out waiting for the condition"
    )
    assert Log("uninstall: starting") in recorder.events
    assert not recorder.finished().ok
    fake_tools.fail_on("nothing fails now")
    runner.abort()
    assert runner.wait(WAIT_S)
    assert recorder.finished().ok and recorder.finished().aborted
    assert [shlex.join(c) for c in fake_tools.calls()[4:]] == [
        "helm install whoami ./whoami/ --set color=FFFF00 --set version=1.0.0 --set strategy=rolling "
        "--set replicaCount=3",
        "kubectl rollout status deployment/whoami --timeout=300s",
        'kubectl patch httproute whoami --type json -p \'[{"op":"replace","path":"/spec/rules/0/backendRefs",'
        '"value":[{"name":"whoami","port":80,"weight":100}]}]\'',
        "helm uninstall whoamiv2 --wait",
    ]
    assert runner.state == START


def test_abort_interrupts_a_rollout_status_wait_but_not_helm(fake_tools: FakeTools) -> None:
    fake_tools.hang_on("kubectl rollout status deployment/whoamiv2")
    runner, recorder = make_runner(ClusterExecutor(), START)
    recorder.reactions.append(abort_once(lambda e: isinstance(e, Log) and "rollout status" in e.line))
    runner.start(build_plan("blue-green", START, V2))
    assert runner.wait(WAIT_S), "the 60 s wait was not interrupted"
    assert recorder.finished().aborted and recorder.finished().ok
    assert Log("interrupted by abort: kubectl rollout status deployment/whoamiv2 --timeout=300s") in recorder.events
    assert [c[:2] for c in fake_tools.calls()] == [["helm", "install"], ["kubectl", "rollout"], ["helm", "uninstall"]]


def test_missing_helm_is_a_clear_step_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    executor = ClusterExecutor()
    assert executor.missing_tools() == ["helm", "kubectl"]
    assert ClusterExecutor(dry_run=True).missing_tools() == []
    runner, recorder = make_runner(executor, START)
    runner.start(build_plan("rolling", START, V2))
    assert runner.wait(WAIT_S)
    (failed,) = recorder.of(StepFailed)
    assert failed.error == "helm not found on PATH: install it, or use --dry-run to see the commands"
