"""``python -m demo.capturing`` runs end to end: a quick scenario, sped up, keeps the contract.

The committed captures are data and are not compared with a fresh run (epochs, uids and
timings differ by design); what must hold is that the generator still works and that
what it makes honours the same checks as the committed files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bus.captures import load_capture
from demo.capturing.rig import CaptureFailed, Rig
from demo.capturing.scenarios import Scenario, record
from tests.support.paths import ROOT
from tests.support.streams import STORIES, check_story, follow, last_snapshots, node_streams


def capturing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "demo.capturing", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_generator_makes_a_scaling_capture_that_keeps_the_contract(tmp_path: Path) -> None:
    done = capturing("--out-dir", str(tmp_path), "--only", "scaling", "--speed-up", "4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("scaling.jsonl: ") and "messages" in done.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["scaling.jsonl"]  # no partial file left behind
    capture = load_capture(tmp_path / "scaling.jsonl")
    assert capture.topics == ("nodes/#",)
    finals = last_snapshots(capture)
    for node, stream in node_streams(capture).items():
        assert follow(node, stream).final == finals[node].pods
    check_story(capture, STORIES["scaling"])


def test_an_unknown_scenario_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    done = capturing("--out-dir", str(tmp_path / "out"), "--only", "nope")
    assert done.returncode == 2
    assert "invalid choice: 'nope'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_capture_that_fails_midway_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    def fail(rig: Rig) -> None:
        raise CaptureFailed("on purpose, while recording")

    out = tmp_path / "empty.jsonl"
    out.write_text("the previous capture\n")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(CaptureFailed, match="on purpose"):
        record(Scenario("empty", "nothing deployed, then a failure", 4.0, lambda rig: None, fail), out, workdir=work)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl", "work"]
    assert out.read_text() == "the previous capture\n"
