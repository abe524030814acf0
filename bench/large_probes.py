"""What the large-cluster bench observes from outside: the bus, and the processes.

- :class:`BusCounter` is a plain paho subscriber on the broker under test. It notes the
  arrival time of every pod event and snapshot, per node, for the main topics and for
  the side watchers' prefix. It parses nothing but the topic, so it costs the machine
  almost nothing next to the watcher and the console it counts for.
- :class:`ProcessSampler` reads ``/proc`` every :data:`SAMPLE_SECONDS`: RSS per named
  process (a group of pids sums: the browser is many processes), and CPU seconds from
  ``/proc/<pid>/stat`` at any moment, so CPU over a window is a difference.
- :func:`per_second` and :func:`rates` turn arrival times into per-second buckets and
  the mean/peak rates the report prints. Pure.

Errors: a process that exited between two samples is skipped (its last sample stays);
nothing else is caught.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import rss_mib

SAMPLE_SECONDS = 0.5
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- pure ------------------------------------------------------------------------------


def per_second(times: Iterable[float], *, start: float, end: float) -> list[int]:
    """How many of ``times`` fall in each whole second from ``start`` (the last bucket may be partial)."""
    buckets = [0] * max(1, int(end - start) + 1)
    for t in times:
        if start <= t <= end:
            buckets[int(t - start)] += 1
    return buckets


@dataclass(frozen=True)
class Rate:
    total: int
    mean: float  # per second over the window
    peak: int  # the busiest whole second


def rates(times: Iterable[float], *, start: float, end: float) -> Rate:
    buckets = per_second(times, start=start, end=end)
    total = sum(buckets)
    return Rate(total, total / max(end - start, 1e-9), max(buckets))


def version_rate(samples: Iterable[tuple[float, int]], *, start: float, end: float) -> Rate:
    """Writes per second from (time, resourceVersion) samples: each bucket's rise in version."""
    inside = [(t, rv) for t, rv in samples if start <= t <= end]
    if len(inside) < 2:
        return Rate(0, 0.0, 0)
    buckets = [0] * (int(end - start) + 1)
    for (_, before), (t, after) in itertools.pairwise(inside):
        buckets[int(t - start)] += after - before
    total = inside[-1][1] - inside[0][1]
    return Rate(total, total / max(end - start, 1e-9), max(buckets))


# -- the bus ---------------------------------------------------------------------------


@dataclass
class Arrivals:
    """Arrival times of one kind of message, per node."""

    by_node: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    sizes: list[tuple[float, int]] = field(default_factory=list)  # (arrival, payload bytes)

    def bytes_between(self, start: float, end: float) -> int:
        return sum(size for t, size in self.sizes if start <= t <= end)

    def all(self) -> list[float]:
        return sorted(t for times in self.by_node.values() for t in times)

    def count(self, nodes: Iterable[str] | None = None) -> int:
        chosen = self.by_node.keys() if nodes is None else nodes
        return sum(len(self.by_node.get(n, ())) for n in chosen)


class BusCounter:
    """Counts ``<prefix>nodes/+/pods`` and ``<prefix>nodes/+/state`` per prefix, with arrival times."""

    def __init__(self, port: int, *, prefixes: tuple[str, ...] = ("",)) -> None:
        self.events: dict[str, Arrivals] = {p: Arrivals() for p in prefixes}
        self.snapshots: dict[str, Arrivals] = {p: Arrivals() for p in prefixes}
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-large-{os.getpid()}")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        for prefix in prefixes:
            self._client.subscribe([(f"{prefix}nodes/+/pods", 1), (f"{prefix}nodes/+/state", 1)])
        self._client.loop_start()

    def _on_message(self, _client: object, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        head, _, kind = msg.topic.rpartition("/")
        prefix_and_nodes, _, node = head.rpartition("/")
        prefix = prefix_and_nodes.removesuffix("nodes")
        table = self.events if kind == "pods" else self.snapshots
        with self._lock:
            if prefix in table:
                table[prefix].by_node[node].append(now)
                table[prefix].sizes.append((now, len(msg.payload)))

    def last_event(self, prefix: str = "") -> float | None:
        with self._lock:
            times = self.events[prefix].all()
        return times[-1] if times else None

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


# -- processes -------------------------------------------------------------------------


def pss_mib(pid: int) -> float:
    """Proportional set size: shared pages split between their users, so a group's sum is honest."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (its threads included, its children not)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime: fields 14, 15 of stat(5)


def descendants(root: int, *, named: str) -> list[int]:
    """Pids below ``root`` whose command name starts with ``named`` (the browser's processes)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited while we looked
                continue
            pid = int(entry.name)
            names[pid] = stat[stat.index("(") + 1 : stat.rindex(")")]
            parents[pid] = int(stat.rpartition(")")[2].split()[1])
    return [pid for pid in parents if names[pid].startswith(named) and _below(pid, root, parents)]


def _below(pid: int, root: int, parents: dict[int, int]) -> bool:
    while pid in parents and pid > 1:
        pid = parents[pid]
        if pid == root:
            return True
    return False


@dataclass
class Group:
    """A named set of processes measured together (one process, or a browser's many)."""

    name: str
    pids: Callable[[], list[int]]
    proportional: bool = False  # PSS instead of RSS: for groups sharing memory (the browser)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, MiB summed)

    def sample(self) -> None:
        total = 0.0
        measure = pss_mib if self.proportional else rss_mib
        for pid in self.pids():
            try:
                total += measure(pid)
            except (OSError, RuntimeError):  # exited, or a zombie without VmRSS
                continue
        self.rss.append((time.monotonic(), total))

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                total += cpu_seconds(pid)
            except OSError:  # exited
                continue
        return total

    def rss_at(self, moment: float) -> float:
        """The last sample taken at or before ``moment``."""
        before = [mib for t, mib in self.rss if t <= moment]
        return before[-1] if before else float("nan")

    def peak(self, start: float, end: float) -> float:
        inside = [mib for t, mib in self.rss if start <= t <= end]
        return max(inside, default=float("nan"))


class ProcessSampler:
    def __init__(self, groups: list[Group]) -> None:
        self.groups = {g.name: g for g in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> ProcessSampler:
        self._thread.start()
        return self

    def cpu(self) -> dict[str, float]:
        return {name: group.cpu() for name, group in self.groups.items()}

    def _run(self) -> None:
        while True:
            for group in self.groups.values():
                group.sample()
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
