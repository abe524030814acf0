"""``python -m led_agent --device json`` as a subprocess, as a user runs it: every JSON frame
line from its stdout goes to a callback, its stderr lines are kept, and the test can wait
on either. Shared by the agent's wire tests and the capture replays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence

from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT

FrameCallback = Callable[[str, list[str], float], None]


class JsonAgentProcess:
    def __init__(
        self,
        endpoint: BrokerEndpoint,
        prefix: str,
        agent_id: str,
        *,
        nodes: Sequence[str],
        leds: int,
        on_frame: FrameCallback,
        extra: Sequence[str] = (),
    ) -> None:
        node_args = [arg for node in nodes for arg in ("--node", node)]
        argv = [sys.executable, "-m", "led_agent", "--device", "json", *node_args, "--leds", str(leds),
                "--broker", endpoint.url, "--topic-prefix", prefix, "--agent-id", agent_id, *extra]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.leds = leds
        self.stderr: list[str] = []
        self.cond = threading.Condition()
        self._on_frame = on_frame
        self._readers = [threading.Thread(target=self._read_frames, daemon=True),
                         threading.Thread(target=self._read_logs, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_frames(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            record = json.loads(line)
            assert len(record["leds"]) == self.leds, record
            with self.cond:
                self._on_frame(record["node"], record["leds"], record["brightness"])
                self.cond.notify_all()

    def _read_logs(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.cond:
                self.stderr.append(line)
                self.cond.notify_all()

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise AssertionError(f"{what} not seen; log {self.stderr[-5:]}")

    def wait_log(self, text: str) -> None:
        self.wait(lambda: any(text in line for line in self.stderr), f"log line {text!r}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(10)

    def close(self) -> None:
        """Terminate (kill if it lingers), join the readers, close the pipes."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        for reader in self._readers:
            reader.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
