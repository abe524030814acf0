"""``python -m console`` as a user runs it: bad arguments exit 2; with a broker it serves the page."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from broker.launching import free_port
from console.cli import main
from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--broker", "foo://x"], "scheme"),
        (["--topic-prefix", "a/#/"], "prefix"),
        (["--traffic-url", "whoami.local"], "http"),
        (["--traffic-rate", "-3"], "rate"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_console_serves_the_page_and_stops_on_sigterm(mosquitto: BrokerEndpoint, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "console.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "--broker", mosquitto.url, "--port", str(port), "--dry-run"],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert page.status_code == 200 and 'id="wall"' in page.text
        state = httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=2).json()
        assert state["controls"]["releases"] == [] and state["traffic"] is None
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) in (0, -signal.SIGTERM), log.read_text()  # uvicorn re-raises the signal
    assert "Application shutdown complete" in log.read_text()
