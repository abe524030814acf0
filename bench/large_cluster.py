"""A large cluster on one machine: 100 nodes x 30 pods, a rolling update of all 3000.

    python -m bench.large_cluster                      # ~2 minutes; prints a table
    python -m bench.large_cluster --markdown out.md    # also the "Large cluster" section
    python -m bench.large_cluster --side-watchers 10   # plus per-node watchers for 10 nodes
    python -m bench.large_cluster --walls dom,canvas,wall   # which walls to measure, in order

The parts, every one real and each in its own process, all on 127.0.0.1:

1. Mosquitto (``broker.launching.start_mosquitto``);
2. the simulated cluster and its API server (``bench.large_apiprocess``): one
   Deployment of 3000 replicas, RollingUpdate maxSurge/maxUnavailable 10 %/10 %, on a
   sped-up clock with short startup and grace times, so the whole update takes tens of
   seconds;
3. one ``python -m watcher --all-nodes`` (and with ``--side-watchers N``, N
   ``python -m watcher --node node-k`` for the first N nodes, publishing under the
   ``side/`` prefix so the wall does not see them twice);
4. the console, ``python -m console --dry-run`` (no traffic source; the dry-run
   executor runs nothing), so its RSS is the console's alone;
5. headless Chromium on the console page, with a frame probe (``bench.large_browser``);
6. in this process: a paho counter on the bus and a ``/proc`` sampler.

Phases: deploy v1 (yellow) and let it become ready; start the console and the browser,
then the watcher, and time until the wall shows all 3000 (cold start). Then, for each
wall of ``--walls`` in turn (default: the old DOM wall, then the canvas wall), on a page
of its own: a quiet window for the baselines (frames/s, RSS and CPU at rest), then a
rolling update to the other colour (yellow → purple, purple → yellow, …), measured until
the cluster is done and that page shows exactly 3000 ready lights of the new colour.

Baselines in the same run: frames/s at rest, the DOM wall beside the canvas wall on the
same cluster and machine, API writes (the watcher's input) against bus events (its
output), and the per-node watchers against the all-nodes one. The rollout, event and
process tables are the first rollout's; the wall table has one column per wall.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import ROOT, percentile
from bench.large_apiprocess import ClusterProcess, ClusterSettings, Done
from bench.large_browser import PATHS, TITLES, FrameSeries, Renderer, WallPage, open_browser, open_page
from bench.large_probes import BusCounter, Group, ProcessSampler, descendants, rates, version_rate
from bench.large_report import (
    FrameFigures,
    ProcessFigures,
    Report,
    SideFigures,
    WallFigures,
    as_markdown,
    as_text,
)
from broker.launching import RunningBroker, free_port, start_mosquitto
from sim.kubeconfig import write_kubeconfig

OLD, NEW = "ffff00", "a81399"
SIDE = "side/"
BROWSER = "chromium (all processes, PSS)"
POLL_SECONDS = 0.5


class BenchError(RuntimeError):
    """A part did not start or the wall did not fill in time."""


@dataclass(frozen=True)
class Options:
    settings: ClusterSettings
    side_watchers: int = 0
    idle_seconds: float = 6.0
    timeout: float = 180.0
    walls: tuple[Renderer, ...] = ("dom", "canvas")


@dataclass
class Parts:
    """Everything started, with the pids the sampler follows; ``stack`` stops them in reverse."""

    broker: RunningBroker
    cluster: ClusterProcess
    stack: contextlib.ExitStack
    kubeconfig: Path
    groups: dict[str, Callable[[], list[int]]] = field(default_factory=dict)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _popen(stack: contextlib.ExitStack, args: list[str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)
    return process


def start_watcher(parts: Parts, *, node: str | None = None, prefix: str = "") -> subprocess.Popen[bytes]:
    target = ["--node", node] if node else ["--all-nodes"]
    return _popen(parts.stack, ["watcher", *target, "--kubeconfig", str(parts.kubeconfig), "--broker",
                                parts.broker.url, "--topic-prefix", prefix, "--log-level", "WARNING"])  # fmt: skip


def start_console(parts: Parts) -> str:
    port = free_port()
    process = _popen(parts.stack, ["console", "--dry-run", "--host", "127.0.0.1", "--port", str(port),
                                   "--broker", parts.broker.url, "--log-level", "WARNING"])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/api/state", timeout=2):
            parts.groups["console"] = lambda: [process.pid]
            return url
        time.sleep(0.1)
    raise BenchError(f"the console did not answer on {url} (exit code {process.poll()})")


def wait_for_wall(wall: WallPage, *, color: str, expected: int, timeout: float) -> float | None:
    """Poll the DOM until the wall shows ``expected`` ready lights of ``color``; the moment, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wall.wall(color).complete(expected):
            return time.monotonic()
        time.sleep(POLL_SECONDS)
    return None


@contextlib.contextmanager
def running_parts(options: Options) -> Iterator[Parts]:
    with contextlib.ExitStack() as stack:
        broker = start_mosquitto(persistence=False)
        stack.callback(broker.stop)
        cluster = ClusterProcess(options.settings)
        stack.callback(cluster.stop)
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-large-"))
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", cluster.url)
        parts = Parts(broker, cluster, stack, kubeconfig)
        parts.groups |= {"cluster + API server": lambda: [cluster.pid], "mosquitto": lambda: [broker.process.pid]}
        yield parts


@dataclass
class Marks:
    """Moments (monotonic) of one wall's rollout, and what was measured at them."""

    renderer: Renderer = "canvas"
    watcher_started: float = 0.0
    wall_full: float = 0.0
    idle_start: float = 0.0
    idle_end: float = 0.0
    applied: float = 0.0
    wall_done: float | None = None
    end: float = 0.0
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # phase → group → CPU seconds
    heap: dict[str, tuple[float | None, int]] = field(default_factory=dict)
    main_thread: dict[str, dict[str, float]] = field(default_factory=dict)  # phase → DevTools metrics
    idle_frames: FrameSeries | None = None
    frames: FrameSeries | None = None


def run(options: Options) -> Report:
    settings = options.settings
    rollouts: list[tuple[Marks, Done]] = []
    with running_parts(options) as parts:
        parts.cluster.deploy(OLD)
        if not parts.cluster.wait(options.timeout).complete:
            raise BenchError(f"the first {settings.replicas} pods did not become ready")
        console_url = start_console(parts)
        counter = BusCounter(parts.broker.port, prefixes=("", SIDE) if options.side_watchers else ("",))
        parts.stack.callback(counter.close)
        with open_browser() as browser:
            sampler: ProcessSampler | None = None
            color, spread = OLD, (0, 0)
            for renderer in options.walls:
                wall = open_page(browser, console_url, renderer)
                marks = Marks(renderer=renderer, watcher_started=time.monotonic())
                if sampler is None:  # the first page: the watcher starts now, the wall fills from cold
                    sampler = start_watchers(parts, side_watchers=options.side_watchers)
                full = wait_for_wall(wall, color=color, expected=settings.replicas, timeout=options.timeout)
                if full is None:
                    raise BenchError(f"the {renderer} wall never showed {settings.replicas} ready lights: "
                                     f"{wall.wall(color)}")  # fmt: skip
                marks.wall_full = full
                spread = spread if rollouts else parts.cluster.spread()
                measure_idle(wall, sampler, marks=marks, seconds=options.idle_seconds)
                color = NEW if color == OLD else OLD
                rollouts.append((marks, measure_rollout(parts, wall, sampler=sampler, marks=marks, options=options,
                                                        color=color)))  # fmt: skip
                wall.close()
            assert sampler is not None
            sampler.stop()
            return build_report(options, rollouts, counter=counter, sampler=sampler, spread=spread,
                                browser=browser.version)  # fmt: skip


def start_watchers(parts: Parts, *, side_watchers: int) -> ProcessSampler:
    """The all-nodes watcher (and the side ones), then the sampler over every part started so far."""
    watcher = start_watcher(parts)
    side = [start_watcher(parts, node=f"node-{k}", prefix=SIDE) for k in range(1, side_watchers + 1)]
    parts.groups |= {
        "watcher --all-nodes": lambda: [watcher.pid],
        "side watchers (all)": lambda: [p.pid for p in side],
        BROWSER: _browser_pids(),
        "bench (paho counter, Playwright)": _bench_pids(),
    }
    groups = [Group(name, pids, proportional=name == BROWSER) for name, pids in parts.groups.items()]
    sampler = ProcessSampler(groups).start()
    parts.stack.callback(sampler.stop)
    return sampler


def _browser_pids() -> Callable[[], list[int]]:
    """Looked up at every sample: each wall's page gets a renderer process of its own."""
    return lambda: descendants(os.getpid(), named="chromium") + descendants(os.getpid(), named="chrome")


def _bench_pids() -> Callable[[], list[int]]:
    pids = [os.getpid(), *descendants(os.getpid(), named="node")]  # Playwright's driver is a node process
    return lambda: pids


def measure_idle(wall: WallPage, sampler: ProcessSampler, *, marks: Marks, seconds: float) -> None:
    time.sleep(2.0)  # the first snapshots' flashes and layout settle
    marks.heap["before"] = wall.heap_mib()
    wall.reset_probe()
    marks.idle_start = time.monotonic()
    marks.cpu["idle start"] = sampler.cpu()
    marks.main_thread["idle start"] = wall.main_thread()
    time.sleep(seconds)
    marks.idle_end = time.monotonic()
    marks.cpu["idle end"] = sampler.cpu()
    marks.main_thread["idle end"] = wall.main_thread()
    marks.idle_frames = wall.frames()


def measure_rollout(parts: Parts, wall: WallPage, *, sampler: ProcessSampler, marks: Marks, options: Options,
                    color: str) -> Done:  # fmt: skip
    result: list[Done] = []
    marks.cpu["rollout start"] = sampler.cpu()
    marks.main_thread["rollout start"] = wall.main_thread()
    wall.reset_probe()
    marks.applied = parts.cluster.deploy(color)
    waiter = threading.Thread(target=lambda: result.append(parts.cluster.wait(options.timeout)), daemon=True)
    waiter.start()
    marks.wall_done = wait_for_wall(wall, color=color, expected=options.settings.replicas, timeout=options.timeout)
    marks.end = time.monotonic()
    marks.cpu["rollout end"] = sampler.cpu()
    marks.main_thread["rollout end"] = wall.main_thread()
    marks.frames = wall.frames()
    waiter.join(options.timeout)
    time.sleep(1.5)  # RSS "after": a sample or two once everything is quiet
    marks.heap["after"] = wall.heap_mib()
    if not result:
        raise BenchError("the cluster process did not answer the wait")
    return result[0]


def frame_figures(marks: Marks) -> FrameFigures:
    assert marks.frames is not None and marks.idle_frames is not None
    f, idle = marks.frames, marks.idle_frames
    seconds = max(len(f.frames), 1)

    def main(phase: str, metric: str = "TaskDuration") -> float:
        return marks.main_thread[f"{phase} end"].get(metric, 0.0) - marks.main_thread[f"{phase} start"].get(metric, 0.0)

    return FrameFigures(
        busy_idle=main("idle") / (marks.idle_end - marks.idle_start),
        busy_rollout=main("rollout") / (marks.end - marks.applied),
        task_s=main("rollout"),
        script_s=main("rollout", "ScriptDuration"),
        style_s=main("rollout", "RecalcStyleDuration"),
        layout_s=main("rollout", "LayoutDuration"),
        fps_idle=sum(idle.frames) / max(len(idle.frames), 1),
        fps_mean=sum(f.frames) / seconds,
        fps_min=min(f.frames, default=0),
        fps_p10=percentile([float(x) for x in f.frames], 10) if f.frames else 0.0,
        wall_fps_mean=sum(f.wall) / seconds,
        wall_fps_max=max(f.wall, default=0),
        records=sum(f.records),
        max_gap_ms=max(f.gap_ms, default=0.0),
        longtask_ms=sum(f.longtask_ms) if f.longtasks_reported else None,
        heap_before=marks.heap["before"][0],
        heap_after=marks.heap["after"][0],
        elements=marks.heap["after"][1],
    )


def process_figures(sampler: ProcessSampler, marks: Marks) -> list[ProcessFigures]:
    idle_span = marks.idle_end - marks.idle_start
    rollout_span = marks.end - marks.applied
    out = []
    for name, group in sampler.groups.items():
        if not group.pids():
            continue
        out.append(ProcessFigures(
            name=name,
            rss_idle=group.rss_at(marks.applied),
            rss_peak=group.peak(marks.applied, marks.end),
            rss_after=group.rss_at(time.monotonic()),
            cores_idle=_delta(marks, "idle", name) / idle_span,
            cores_rollout=_delta(marks, "rollout", name) / rollout_span,
        ))  # fmt: skip
    return out


def _delta(marks: Marks, phase: str, name: str) -> float:
    return marks.cpu[f"{phase} end"][name] - marks.cpu[f"{phase} start"][name]


def wall_figures(marks: Marks, done: Done) -> WallFigures:
    span = marks.end - marks.applied
    return WallFigures(
        title=TITLES[marks.renderer],
        path=PATHS[marks.renderer],
        frames=frame_figures(marks),
        rollout_s=done.last_write - marks.applied,
        wall_lag_s=(marks.wall_done or float("nan")) - done.last_write,
        complete=done.complete and marks.wall_done is not None,
        browser_cores=_delta(marks, "rollout", BROWSER) / span,
        console_cores=_delta(marks, "rollout", "console") / span,
    )


def build_report(options: Options, rollouts: list[tuple[Marks, Done]], *, counter: BusCounter,
                 sampler: ProcessSampler, spread: tuple[int, int], browser: str) -> Report:  # fmt: skip
    marks, done = rollouts[0]  # the rollout, event and process tables: the first rollout's
    start, end = marks.applied, marks.end
    events = counter.events[""]
    last_event = max((t for t in events.all() if start <= t <= end), default=float("nan"))
    side = None
    if options.side_watchers:
        nodes = [f"node-{k}" for k in range(1, options.side_watchers + 1)]
        group = sampler.groups["side watchers (all)"]
        side = SideFigures(
            watchers=options.side_watchers,
            events=sum(1 for n in nodes for t in counter.events[SIDE].by_node.get(n, []) if start <= t <= end),
            main_events_same_nodes=sum(1 for n in nodes for t in events.by_node.get(n, []) if start <= t <= end),
            rss_each=group.rss_at(time.monotonic()) / options.side_watchers,
            cores_total=_delta(marks, "rollout", group.name) / (end - start),
        )  # fmt: skip
    return Report(
        machine=machine_rows(browser),
        settings=settings_rows(options),
        complete=all(done.complete and m.wall_done is not None for m, done in rollouts),
        spread=spread,
        cold_start_s=marks.wall_full - marks.watcher_started,
        rollout_s=done.last_write - start,
        bus_lag_s=last_event - done.last_write,
        wall_s=(marks.wall_done or float("nan")) - start,
        wall_lag_s=(marks.wall_done or float("nan")) - done.last_write,
        store=version_rate(done.timeline, start=start, end=end),
        bus=rates(events.all(), start=start, end=end),
        snapshots=rates(counter.snapshots[""].all(), start=start, end=end),
        bus_bytes=(events.bytes_between(start, end), counter.snapshots[""].bytes_between(start, end)),
        walls=[wall_figures(m, d) for m, d in rollouts],
        processes=process_figures(sampler, marks),
        side=side,
        first_wall=TITLES[marks.renderer],
    )


def machine_rows(browser: str) -> list[tuple[str, str]]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())  # fmt: skip
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem = next(line.split()[1] for line in meminfo if line.startswith("MemTotal"))
    return [("cores", f"{os.cpu_count()} x {model}"), ("memory", f"{int(mem) // 1024:,} MiB"),
            ("python", platform.python_version()), ("chromium (headless)", browser)]  # fmt: skip


def settings_rows(options: Options) -> list[tuple[str, str]]:
    s = options.settings
    return [
        ("nodes x pods", f"{s.nodes} x {s.pods_per_node} = {s.replicas} pods, one Deployment"),
        ("strategy", f"RollingUpdate maxSurge {s.max_surge}, maxUnavailable {s.max_unavailable}"),
        ("cluster clock", f"x{s.speed:g}; startup {s.startup[0]:g}-{s.startup[1]:g} s, grace {s.grace:g} s "
                          f"(cluster seconds); controller tick {s.tick:g} s"),
        ("watchers", "1 x --all-nodes" + (f", + {options.side_watchers} x --node (side/)" if options.side_watchers
                                           else "")),
        ("browser viewport", "1920 x 1080, wall polled every 0.5 s from outside"),
        ("walls, in order (one rollout each)", ", ".join(f"{TITLES[w]} ({PATHS[w]})" for w in options.walls)),
    ]  # fmt: skip


def parse_args(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m bench.large_cluster", description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--speed", type=float, default=10.0, help="cluster seconds per real second (default: 10)")
    p.add_argument("--side-watchers", type=int, default=0, help="per-node watchers for the first N nodes")
    p.add_argument("--timeout", type=float, default=180.0, help="for each wait, seconds (default: 180)")
    p.add_argument("--markdown", type=Path, help="also write the Markdown section to this file")
    p.add_argument("--walls", default="dom,canvas",
                   help=f"walls to measure, one rollout each, in order: {', '.join(PATHS)} (default: dom,canvas)")
    args = p.parse_args(argv)
    if args.nodes < 1 or args.pods_per_node < 1 or not 0 <= args.side_watchers <= args.nodes or args.speed <= 0:
        p.error("need nodes >= 1, pods-per-node >= 1, speed > 0 and 0 <= side-watchers <= nodes")
    names = [w.strip() for w in args.walls.split(",") if w.strip()]
    walls = tuple(w for name in names for w in PATHS if w == name)
    if not walls or len(walls) != len(names):
        p.error(f"--walls: a comma-separated list of {', '.join(PATHS)}, got {args.walls!r}")
    settings = ClusterSettings(nodes=args.nodes, pods_per_node=args.pods_per_node, speed=args.speed)
    options = Options(settings, side_watchers=args.side_watchers, timeout=args.timeout, walls=walls)
    return options, args


def main(argv: list[str] | None = None) -> int:
    options, args = parse_args(argv)
    try:
        report = run(options)
    except BenchError as e:
        print(f"python -m bench.large_cluster: {e}", file=sys.stderr)
        return 1
    print(as_text(report))
    if args.markdown:
        args.markdown.write_text(as_markdown(report))
    return 0 if report.complete else 1


if __name__ == "__main__":
    sys.exit(main())
