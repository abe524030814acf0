"""What a flood costs an LED agent: many pods on one node, and hostile payloads.

    python -m bench.agent_load                    # baseline main, against this tree (~2 minutes)
    python -m bench.agent_load --quick            # smaller counts, a smoke run
    python -m bench.agent_load --baseline HEAD~3  # any git ref as the baseline

Both trees run in the same run, on the same machine: the baseline is ``git archive`` of
the ref, unpacked into a temporary directory. For each tree:

- **pods offered**: a real ``python -m led_agent --device json`` process (8 LEDs, nodes
  ``n1`` and ``n2``) behind a Mosquitto of its own; 110, 1,000 and 20,000 distinct
  seq-less adds (the seed's minimal events) are published on ``n1``, then a marker on
  ``n2``; when the agent prints the marker's frame it has handled them all (one
  publisher, one subscriber: the broker keeps the order). Reported: the agent's RSS
  before and after, its CPU time for the lot. The same adds are then fed in-process to a
  fresh ``led_agent.board.Board`` of that tree, and one render-loop turn (``frames()``
  and ``animated()``, what ``RenderLoop`` does per frame) is timed: mean and p99.
- **hostile flood**: 10,000 bad payloads (a third each: JSON nested 5,000 deep, an
  integer of 5,000 digits, not JSON) on ``n1`` of a fresh agent, then the marker.
  Reported: the bytes the agent wrote to stderr and its CPU time, per 10,000 messages.

Prints one table per measure and ratios (this tree / baseline); ``--json`` prints the raw
figures instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import ROOT, percentile, rss_mib
from broker.launching import RunningBroker, start_mosquitto

SIZES = (110, 1_000, 20_000)
QUICK_SIZES = (110, 1_000, 5_000)
FLOOD = 10_000
MARKER_COLORS = [f"abcd{i:02x}" for i in range(1, 8)]  # n2 has 8 LEDs: one per marker, never overflowing
HOSTILE = (b"[" * 5_000, b'{"action":"add","pod":"x","seq":' + b"9" * 5_000 + b"}", b"{not json")
TICKS = os.sysconf("SC_CLK_TCK")

# One render-loop turn of a tree's board, timed in a process of its own (run with cwd = the tree).
FRAME_WORKER = """
import gc, json, sys, time
from led_agent.board import Board
from bus.topics import Topics
count, turns = int(sys.argv[1]), int(sys.argv[2])
board = Board(["n1"], leds=8, topics=Topics())
payloads = [json.dumps({"action": "add", "pod": f"p{i}", "color": "00ff00"}).encode() for i in range(count)]
started = time.perf_counter()
for payload in payloads:
    board.handle("nodes/n1/pods", payload)
handled = time.perf_counter() - started
gc.collect()
times = []
for _ in range(turns):
    t0 = time.perf_counter()
    board.frames()
    board.animated()
    times.append(time.perf_counter() - t0)
print(json.dumps({"handle_us": handled / count * 1e6, "turns_s": times}))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


@contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    """The tree of ``ref``, unpacked into a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="agent-load-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp)


@dataclass
class AgentRun:
    """``python -m led_agent --device json`` of one tree: n2's frames watched, stderr in a file."""

    tree: Path
    broker: RunningBroker
    log: BinaryIO  # the agent's stderr
    prefix: str = field(default_factory=lambda: f"load{uuid.uuid4().hex[:8]}/")

    def __post_init__(self) -> None:
        argv = [sys.executable, "-m", "led_agent", "--device", "json", "--node", "n1", "--node", "n2", "--leds", "8",
                "--broker", self.broker.url, "--topic-prefix", self.prefix, "--agent-id", self.prefix.rstrip("/")]
        self.proc = subprocess.Popen(argv, cwd=self.tree, stdout=subprocess.PIPE, stderr=self.log,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(self.tree)})
        self.shown: set[str] = set()  # colours n2 has shown
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_frames, daemon=True)
        self._reader.start()

    @property
    def stderr_bytes(self) -> int:
        return os.fstat(self.log.fileno()).st_size

    def _read_frames(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            record = json.loads(line)
            if record["node"] == "n2":
                with self._cond:
                    self.shown.update(record["leds"])
                    self._cond.notify_all()

    def wait_shown(self, color: str, timeout: float = 300) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: color in self.shown, timeout)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        self._reader.join(5)


class Publisher:
    def __init__(self, broker: RunningBroker, prefix: str) -> None:
        self.prefix = prefix
        self.markers = 0
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"load-{uuid.uuid4().hex[:8]}")
        self._client.max_inflight_messages_set(200)
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()

    def send(self, node: str, payloads: Iterator[bytes] | list[bytes]) -> None:
        last = None
        for payload in payloads:
            last = self._client.publish(f"{self.prefix}nodes/{node}/pods", payload, qos=1)
        if last is not None:
            last.wait_for_publish(120)

    def marker(self) -> str:
        """A new pod on n2 in a colour of its own; once it is shown, all sent before is handled."""
        color = MARKER_COLORS[self.markers]
        self.markers += 1
        self.send("n2", [json.dumps({"action": "add", "pod": f"marker-{self.markers}", "color": color}).encode()])
        return color

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def adds(count: int) -> Iterator[bytes]:
    return (json.dumps({"action": "add", "pod": f"p{i}", "color": "00ff00"}).encode() for i in range(count))


@contextmanager
def running_agent(tree: Path, broker: RunningBroker) -> Iterator[tuple[AgentRun, Publisher]]:
    with tempfile.TemporaryFile() as log:
        agent = AgentRun(tree, broker, log)
        with _published(agent, broker) as publisher:
            yield agent, publisher


@contextmanager
def _published(agent: AgentRun, broker: RunningBroker) -> Iterator[Publisher]:
    publisher = Publisher(broker, agent.prefix)
    try:
        while not agent.wait_shown(publisher.marker(), timeout=3):  # until it is connected and subscribed
            if publisher.markers == len(MARKER_COLORS) - 1:
                raise RuntimeError("the agent shows nothing: not connected?")
        yield publisher
    finally:
        publisher.close()
        agent.close()


def offered(tree: Path, broker: RunningBroker, count: int, turns: int) -> dict[str, float]:
    """A real agent offered ``count`` pods on one node: RSS and CPU; then a board's frame time in-process."""
    with running_agent(tree, broker) as (agent, publisher):
        rss_before, cpu_before = rss_mib(agent.proc.pid), cpu_seconds(agent.proc.pid)
        publisher.send("n1", adds(count))
        agent.wait_shown(publisher.marker())
        time.sleep(0.5)  # let the render loop settle before reading RSS
        rss_after, cpu = rss_mib(agent.proc.pid), cpu_seconds(agent.proc.pid) - cpu_before
    worker = subprocess.run([sys.executable, "-c", FRAME_WORKER, str(count), str(turns)], cwd=tree,
                            capture_output=True, text=True, check=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(tree)})
    timing = json.loads(worker.stdout)
    turns_ms = [t * 1000 for t in timing["turns_s"]]
    return {"rss_before_mib": rss_before, "rss_after_mib": rss_after, "cpu_s": cpu,
            "handle_us": timing["handle_us"], "frame_ms_mean": statistics.fmean(turns_ms),
            "frame_ms_p99": percentile(turns_ms, 99)}


def flooded(tree: Path, broker: RunningBroker, count: int) -> dict[str, float]:
    """A real agent sent ``count`` hostile payloads: stderr bytes and CPU, scaled to 10,000 messages."""
    with running_agent(tree, broker) as (agent, publisher):
        cpu_before, bytes_before = cpu_seconds(agent.proc.pid), agent.stderr_bytes
        publisher.send("n1", (HOSTILE[i % len(HOSTILE)] for i in range(count)))
        agent.wait_shown(publisher.marker())
        time.sleep(0.5)  # the last log lines
        cpu, written = cpu_seconds(agent.proc.pid) - cpu_before, agent.stderr_bytes - bytes_before
    scale = FLOOD / count
    return {"stderr_bytes_per_10k": written * scale, "cpu_s_per_10k": cpu * scale}


def ratio(after: float, before: float) -> str:
    return f"{after / before:.3g}" if before else "—"


def report(results: dict[str, dict[str, dict[str, float]]], sizes: tuple[int, ...]) -> None:
    base, this = results["baseline"], results["this"]
    print("pods offered on one node (seq-less adds), 8 LEDs")
    print(f"{'pods':>7} {'tree':>9} {'RSS before':>11} {'RSS after':>10} {'CPU s':>7} {'µs/msg':>7} "
          f"{'frame ms':>9} {'p99 ms':>8}")
    for size in sizes:
        for name, run in (("baseline", base[str(size)]), ("this", this[str(size)])):
            print(f"{size:>7} {name:>9} {run['rss_before_mib']:>9.1f} M {run['rss_after_mib']:>8.1f} M "
                  f"{run['cpu_s']:>7.2f} {run['handle_us']:>7.1f} {run['frame_ms_mean']:>9.3f} "
                  f"{run['frame_ms_p99']:>8.3f}")
        b, t = base[str(size)], this[str(size)]
        print(f"{'':>7} {'ratio':>9} {'':>11} {ratio(t['rss_after_mib'], b['rss_after_mib']):>10} "
              f"{ratio(t['cpu_s'], b['cpu_s']):>7} {ratio(t['handle_us'], b['handle_us']):>7} "
              f"{ratio(t['frame_ms_mean'], b['frame_ms_mean']):>9}")
    b, t = base["flood"], this["flood"]
    print(f"\nhostile flood, per {FLOOD:,} messages (nested 5,000 deep / 5,000-digit integer / not JSON)")
    print(f"{'tree':>9} {'stderr bytes':>13} {'CPU s':>7}")
    for name, run in (("baseline", b), ("this", t)):
        print(f"{name:>9} {run['stderr_bytes_per_10k']:>13,.0f} {run['cpu_s_per_10k']:>7.2f}")
    print(f"{'ratio':>9} {ratio(t['stderr_bytes_per_10k'], b['stderr_bytes_per_10k']):>13} "
          f"{ratio(t['cpu_s_per_10k'], b['cpu_s_per_10k']):>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agent_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="main", help="git ref to compare with (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    sizes, turns, flood = (QUICK_SIZES, 50, 1_500) if args.quick else (SIZES, 300, FLOOD)
    broker = start_mosquitto(persistence=False)
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        with baseline_tree(args.baseline) as base:
            for name, tree in (("baseline", base), ("this", ROOT)):
                runs = {str(size): offered(tree, broker, size, turns) for size in sizes}
                runs["flood"] = flooded(tree, broker, flood)
                results[name] = runs
    finally:
        broker.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
