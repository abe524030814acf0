"""Reading the cluster's state at start: the parsing from tables, then the real commands
against fake ``helm`` and ``kubectl`` on PATH (which record their argv and answer from a
script), then ``python -m console`` failing to read as a user sees it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.cli import main, parser, starting_state
from console.controlling import RunnerControls
from console.executors import CommandFailed, ToolMissing
from console.executors.cluster import ClusterExecutor, Completed
from console.executors.discovery import (
    ClusterStateError,
    cluster_state,
    describe_found,
    parse_values,
    parse_weights,
    read_cluster_state,
)
from console.plans import CHART_DEFAULTS, AppState, Release, Values
from tests.console.runs import WAIT_S
from tests.support.paths import ROOT

V1 = Values("ffff00", "1.0.0", "rolling", 3)
V2 = Values("a81399", "2.2.0", "rolling", 3)
HELM_V1 = {"color": "FFFF00", "version": "1.0.0", "strategy": "rolling", "replicaCount": 3, "minReadySeconds": 2}
HELM_V2 = {**HELM_V1, "color": "#A81399", "version": "2.2.0"}


def httproute(*backends: dict[str, object]) -> dict[str, object]:
    rule = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": list(backends)}
    return {"kind": "HTTPRoute", "spec": {"parentRefs": [{"name": "gateway"}], "rules": [rule]}}


def traefik(*services: dict[str, object]) -> dict[str, object]:
    return {"kind": "TraefikService", "spec": {"weighted": {"services": list(services)}}}


# --- Parsing, pure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "values"),
    [
        (HELM_V1, V1),
        (HELM_V2, V2),
        (
            {"color": "0f0", "version": 2, "strategy": "recreate", "replicaCount": 0},
            Values("00ff00", "2", "recreate", 0),
        ),
        ({"replicaCount": 5}, Values("ffff00", "1.0.0", "rolling", 5)),  # what --all lacks: the chart's
        (None, CHART_DEFAULTS),
    ],
)
def test_helm_values_become_complete_normalised_values(data: object, values: Values) -> None:
    assert parse_values("whoami", data) == values


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**HELM_V1, "color": 1122}, "release whoami: color 1122.*--set-string"),  # --set color=001122
        ({**HELM_V1, "color": "purple"}, "color 'purple'"),
        ({**HELM_V1, "strategy": "bluegreen"}, "strategy 'bluegreen'"),
        ({**HELM_V1, "replicaCount": "3"}, "replicas '3'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_values_the_console_cannot_use_are_a_clear_error(data: object, message: str) -> None:
    with pytest.raises(ClusterStateError, match=message):
        parse_values("whoami", data)


@pytest.mark.parametrize(
    ("kind", "data", "weights"),
    [
        ("httproute", httproute({"name": "whoami", "port": 80, "weight": 100}), (("whoami", 100),)),
        (
            "httproute",
            httproute({"name": "whoami", "port": 80, "weight": 95}, {"name": "whoamiv2", "port": 80, "weight": 5}),
            (("whoami", 95), ("whoamiv2", 5)),
        ),
        ("httproute", httproute({"name": "whoami", "port": 80}), (("whoami", 1),)),  # the API's default weight
        ("httproute", httproute(), ()),
        ("httproute", {"spec": {"rules": []}}, ()),
        ("traefik", traefik({"name": "whoamiv2", "port": 80, "weight": 100}), (("whoamiv2", 100),)),
        (
            "traefik",
            traefik({"name": "whoami", "port": 80, "weight": 0}, {"name": "whoamiv2", "port": 80, "weight": 100}),
            (("whoami", 0), ("whoamiv2", 100)),
        ),
        ("traefik", {"spec": {}}, ()),
    ],
)
def test_route_objects_become_weights(kind: str, data: object, weights: tuple[tuple[str, int], ...]) -> None:
    assert parse_weights(kind, data, route="whoami") == weights  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (httproute({"name": "whoami", "weight": 50}, {"name": "whoami", "weight": 50}), "listed twice"),
        (httproute({"name": "whoami", "weight": -1}), "weight -1"),
        (httproute({"name": "whoami", "weight": "10"}), "weight '10'"),
        (httproute({"port": 80, "weight": 10}), "without a name"),
        ({"spec": {"rules": [{"backendRefs": {"name": "whoami"}}]}}, "expected a list"),
    ],
)
def test_routes_the_console_cannot_use_are_a_clear_error(data: object, message: str) -> None:
    with pytest.raises(ClusterStateError, match=message):
        parse_weights("httproute", data, route="whoami")


@pytest.mark.parametrize(
    ("releases", "weights", "state", "found"),
    [
        (
            {"whoami": V1, "whoamiv2": None},
            (("whoami", 100),),
            AppState((Release("whoami", V1),), (("whoami", 100),)),
            "whoami 1.0.0 ffff00 x3, route whoami whoami 100",
        ),
        (
            {"whoamiv2": V2, "whoami": V1},  # RELEASES order, whatever the reading order
            (("whoami", 90), ("whoamiv2", 10)),
            AppState((Release("whoami", V1), Release("whoamiv2", V2)), (("whoami", 90), ("whoamiv2", 10))),
            "whoami 1.0.0 ffff00 x3, whoamiv2 2.2.0 a81399 x3, route whoami whoami 90 / whoamiv2 10",
        ),
        (
            {"whoami": None, "whoamiv2": V2},
            (),
            AppState((Release("whoamiv2", V2),)),
            "whoamiv2 2.2.0 a81399 x3, no route whoami",
        ),
        ({"whoami": None, "whoamiv2": None}, (), AppState(), "no release installed, no route whoami"),
    ],
)
def test_the_state_holds_the_installed_releases_and_the_weights(
    releases: dict[str, Values | None], weights: tuple[tuple[str, int], ...], state: AppState, found: str
) -> None:
    assert cluster_state(releases, weights, route="whoami") == state
    assert describe_found(state) == found


def test_the_live_release_follows_the_route_when_both_are_installed() -> None:
    state = cluster_state({"whoami": V1, "whoamiv2": V2}, (("whoami", 0), ("whoamiv2", 100)), route="whoami")
    assert state.live == Release("whoamiv2", V2)


# --- The commands, through an injected runner --------------------------------------


@dataclass
class ScriptedRun:
    """A command runner answering from ``answers`` (argv prefix → Completed); records argv."""

    answers: list[tuple[list[str], Completed]]

    def __post_init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, cancel: threading.Event | None) -> Completed:
        self.calls.append(list(argv))
        return next(done for prefix, done in self.answers if list(argv[: len(prefix)]) == prefix)


RELEASE_NOT_FOUND = Completed(1, "", "Error: release: not found\n")


def test_the_commands_read_and_the_namespace_is_passed() -> None:
    run = ScriptedRun([
        (["helm", "get", "values", "whoami"], Completed(0, json.dumps(HELM_V1), "")),
        (["helm", "get", "values", "whoamiv2"], RELEASE_NOT_FOUND),
        (["kubectl", "get", "traefikservice"], Completed(0, json.dumps(traefik({"name": "whoami", "weight": 7})), "")),
    ])  # fmt: skip
    state = read_cluster_state(namespace="demo", route_kind="traefik", route="web", run=run)
    assert state == AppState((Release("whoami", V1),), (("whoami", 7),), route="web")
    assert run.calls == [
        ["helm", "get", "values", "whoami", "--all", "-o", "json", "--namespace", "demo"],
        ["helm", "get", "values", "whoamiv2", "--all", "-o", "json", "--namespace", "demo"],
        ["kubectl", "get", "traefikservice", "web", "-o", "json", "--namespace", "demo"],
    ]


@pytest.mark.parametrize(
    "stderr",
    [
        'Error from server (NotFound): httproutes.gateway.networking.k8s.io "whoami" not found',
        'error: the server doesn\'t have a resource type "httproute"',  # no Gateway API: no route either
    ],
)
def test_a_missing_route_means_no_weights(stderr: str) -> None:
    run = ScriptedRun([
        (["helm", "get", "values", "whoami"], Completed(0, json.dumps(HELM_V1), "")),
        (["helm"], RELEASE_NOT_FOUND),
        (["kubectl"], Completed(1, "", stderr + "\n")),
    ])  # fmt: skip
    assert read_cluster_state(namespace=None, route_kind="httproute", run=run) == AppState((Release("whoami", V1),))


@pytest.mark.parametrize(
    ("answers", "error", "message"),
    [
        (
            [
                (
                    ["helm"],
                    Completed(1, "", 'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version"\n'),
                )
            ],
            CommandFailed,
            "`helm get values whoami --all -o json` exited with 1: Error: Kubernetes cluster unreachable",
        ),
        (  # a bad context also says "not found": it must not read as an empty cluster
            [(["helm"], Completed(1, "", 'Error: context "kind-gone" not found\n'))],
            CommandFailed,
            'context "kind-gone" not found',
        ),
        (
            [(["helm"], RELEASE_NOT_FOUND), (["kubectl"], Completed(1, "", "Error from server (Forbidden): no\n"))],
            CommandFailed,
            r"`kubectl get httproute whoami -o json` exited with 1: Error from server \(Forbidden\)",
        ),
        (
            [(["helm"], Completed(0, "color: FFFF00\n", ""))],
            ClusterStateError,
            "`helm get values whoami --all -o json` printed no JSON",
        ),
    ],
)
def test_a_failed_read_names_the_command(
    answers: list[tuple[list[str], Completed]], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        read_cluster_state(namespace=None, route_kind="httproute", run=ScriptedRun(answers))


# --- Against fake helm and kubectl on PATH -------------------------------------------

FAKE_TOOL = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_TOOLS_LOG"], "a") as log:
    log.write(json.dumps([name, *sys.argv[1:]]) + "\\n")
with open(os.environ["FAKE_TOOLS_ANSWERS"]) as f:
    answers = json.load(f)
argv = [name, *sys.argv[1:]]
for prefix, code, out, err in answers:
    if argv[: len(prefix)] == prefix:
        sys.stdout.write(out)
        sys.stderr.write(err)
        sys.exit(code)
sys.exit("fake %s: no answer for %s" % (name, argv))
"""

INSTALLED = [
    [["helm", "get", "values", "whoami"], 0, json.dumps(HELM_V1), ""],
    [["helm", "get", "values", "whoamiv2"], 1, "", "Error: release: not found\n"],
    [["kubectl", "get", "httproute", "whoami"], 0, json.dumps(httproute({"name": "whoami", "weight": 100})), ""],
]
UNREACHABLE = [[["helm"], 1, "", 'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:1/version": refused\n']]


@dataclass
class FakeTools:
    bin_dir: Path
    log: Path
    answers: Path

    def answer(self, answers: list[list[object]]) -> None:
        self.answers.write_text(json.dumps(answers))

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("helm", "kubectl"):
        path = bin_dir / tool
        path.write_text(FAKE_TOOL.format(python=sys.executable))
        path.chmod(0o755)
    tools = FakeTools(bin_dir, tmp_path / "calls.jsonl", tmp_path / "answers.json")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TOOLS_LOG", str(tools.log))
    monkeypatch.setenv("FAKE_TOOLS_ANSWERS", str(tools.answers))
    return tools


def test_an_installed_whoami_is_read_and_scale_upgrades_it(fake_tools: FakeTools) -> None:
    fake_tools.answer(INSTALLED)
    state = read_cluster_state(namespace=None, route_kind="httproute")
    assert state == AppState((Release("whoami", V1),), (("whoami", 100),))
    assert [call[:4] for call in fake_tools.calls()] == [
        ["helm", "get", "values", "whoami"],
        ["helm", "get", "values", "whoamiv2"],
        ["kubectl", "get", "httproute", "whoami"],
    ]
    out = io.StringIO()
    controls = RunnerControls(ClusterExecutor(dry_run=True, out=out), state=state)
    assert controls.scale(4).strategy == "scale"
    assert controls.runner.wait(WAIT_S)
    assert out.getvalue().splitlines()[0] == "helm upgrade whoami --reuse-values --set replicaCount=4 ./whoami/ --wait"
    assert "install" not in out.getvalue()
    assert controls.describe().releases[0].replicas == 4


def test_missing_helm_is_tool_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="helm not found on PATH"):
        read_cluster_state(namespace=None, route_kind="httproute")


def run_console(fake_tools: FakeTools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "--broker", "mqtt://127.0.0.1:1", *args],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_the_console_exits_1_with_one_line_when_the_cluster_cannot_be_read(fake_tools: FakeTools) -> None:
    fake_tools.answer(UNREACHABLE)
    done = run_console(fake_tools, "--namespace", "demo")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert error == (
        "python -m console: error: cannot read the cluster's state: "
        "`helm get values whoami --all -o json --namespace demo` exited with 1: "
        'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:1/version": refused'
    )
    assert fake_tools.calls() == [["helm", "get", "values", "whoami", "--all", "-o", "json", "--namespace", "demo"]]


def test_the_console_logs_what_it_found_and_a_dry_run_reads_nothing(
    fake_tools: FakeTools, caplog: pytest.LogCaptureFixture
) -> None:
    fake_tools.answer(INSTALLED)
    caplog.set_level(logging.INFO, logger="console")
    assert starting_state(parser().parse_args([])) == AppState((Release("whoami", V1),), (("whoami", 100),))
    assert "cluster: whoami 1.0.0 ffff00 x3, route whoami whoami 100" in caplog.messages
    calls = len(fake_tools.calls())
    assert starting_state(parser().parse_args(["--dry-run"])) == AppState()
    assert len(fake_tools.calls()) == calls
    assert "dry run: starting from an empty cluster (its state is not read)" in caplog.messages


def test_main_exits_1_when_helm_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--log-level", "ERROR"]) == 1
    assert capsys.readouterr().err == (
        "python -m console: error: cannot read the cluster's state: "
        "helm not found on PATH: install it, or use --dry-run to see the commands\n"
    )
