"""The Blinkt! at the device's limit: our drivers against the ``blinkt`` library, in one run.

    python -m bench.blinkt            # everything, about a minute
    python -m bench.blinkt --quick    # fewer frames, the capture at double speed

1. Per driver (``rpi-gpio``, ``lgpio``, ``gpiod``) through its recording stand-in
   (``tests/support/gpio_standins.py``, ``gpiod_standin.py``: the real libraries' signatures and checks,
   every pin change recorded, and decoded afterwards to check the frames): milliseconds
   per frame, frames/s, GPIO calls per frame. Then the same driver over a *no-op*
   library (the same names, functions that do nothing): what is left is our own code
   plus one empty Python call per GPIO call, an upper bound on our code's cost. Each
   figure is the best of 3 rounds (the machine is shared; the best is the least disturbed).
2. The ``blinkt`` library 0.1.2 with its REAL sleeps over the same recording RPi.GPIO:
   the baseline, and the ratio of each driver's frame rate to it.
3. End to end: the agent (in this process) with ``--device blinkt`` over the fastest
   stand-in, and over the library, while ``tests/captures/rolling-upgrade.jsonl`` is
   replayed through a real Mosquitto (``bus.replaying``): render-loop turns per second
   while something animates, the gap between turns, device writes and their duration,
   and that the last frame decoded off the wire is what the agent shows.

There is no Raspberry Pi here: the stand-ins cost what a Python function costs, not
what a register write or an ioctl costs on a Pi, so (1) measures our code, not a Pi's
GPIO. The library's frame time is dominated by its sleeps, which cost the same here.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import itertools
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace

from bench.harness import percentile
from broker.launching import start_mosquitto
from bus.captures import load_capture
from bus.replaying import ReplayOptions, replay_to_broker
from bus.topics import Topics
from bus.urls import parse_broker_url
from led_agent.agent import Agent, AgentConfig
from led_agent.backends.apa102 import Pixel
from led_agent.backends.blinkt import BlinktDevice, Strip, open_strip
from led_agent.backends.drivers import DRIVER_NAMES
from led_agent.rendering import Frame
from tests.support.gpio_standins import LgpioError, LgpioStandIn, RPiGPIOStandIn, installed, make_dev, make_module
from tests.support.gpiod_standin import Direction, GpiodStandIn, RequestReleasedError, Value
from tests.support.paths import CAPTURES

StandIn = RPiGPIOStandIn | LgpioStandIn | GpiodStandIn
NODE = "node-1"
COLORS = ("ff0000", "00ff00", "0000ff", "ffff00", "a81399", "ffffff", "000000", "123456")


def frames(count: int) -> list[dict[str, Frame]]:
    """``count`` different frames: the colours rotate by one LED per frame."""
    return [{NODE: tuple(COLORS[(i + k) % len(COLORS)] for i in range(8))} for k in range(count)]


def stand_in(driver: str, dev: Path) -> StandIn:
    if driver in ("rpi-gpio", "blinkt"):
        return RPiGPIOStandIn()
    make_dev(dev, [0])
    if driver == "lgpio":
        return LgpioStandIn({0: "pinctrl-bcm2711"})
    return GpiodStandIn({str(dev / "gpiochip0"): "pinctrl-rp1"})


def noop_modules(driver: str) -> dict[str, ModuleType | None]:
    """``driver``'s library with the same names and functions that do nothing."""
    def nothing(*args: object, **kwargs: object) -> int:
        return 0

    if driver == "rpi-gpio":
        gpio = make_module("RPi.GPIO", {"BCM": 11, "OUT": 0, "LOW": 0, "VERSION": "no-op", "setmode": nothing,
                                        "setwarnings": nothing, "setup": nothing, "output": nothing,
                                        "cleanup": nothing})
        return {"RPi": make_module("RPi", {"GPIO": gpio}), "RPi.GPIO": gpio}
    if driver == "lgpio":
        names: dict[str, object] = dict.fromkeys(
            ("gpiochip_open", "gpiochip_close", "group_claim_output", "group_write", "group_free"), nothing)
        names |= {"error": LgpioError, "gpio_get_chip_info": lambda handle: [0, 54, "gpiochip0", "pinctrl-bcm2711"]}
        return {"lgpio": make_module("lgpio", names)}
    request = SimpleNamespace(set_values=nothing, release=nothing)
    chip = SimpleNamespace(get_info=lambda: SimpleNamespace(label="pinctrl-rp1"), __enter__=None)
    line = make_module("gpiod.line", {"Value": Value, "Direction": Direction})
    gpiod = {"Chip": lambda path: NoopChip(chip), "request_lines": lambda *a, **k: request, "line": line,
             "LineSettings": nothing, "RequestReleasedError": RequestReleasedError}
    return {"gpiod": make_module("gpiod", gpiod), "gpiod.line": line}


@dataclass
class NoopChip:
    chip: SimpleNamespace

    def __enter__(self) -> SimpleNamespace:
        return self.chip

    def __exit__(self, *exc: object) -> None:
        """Nothing to close."""


@contextmanager
def strip_over(driver: str, *, noop: bool = False) -> Iterator[tuple[Strip, StandIn]]:
    """A strip over ``driver`` (``blinkt``: the real library) and its recording stand-in (or a no-op library)."""
    with tempfile.TemporaryDirectory() as tmp:
        dev = Path(tmp)
        gpio = stand_in(driver, dev)
        absent: dict[str, ModuleType | None] = {"RPi": None, "RPi.GPIO": None, "lgpio": None, "gpiod": None,
                                                "gpiod.line": None, "blinkt": None}
        with installed({**absent, **(noop_modules(driver) if noop else gpio.modules())}):
            if driver == "blinkt":
                sys.modules.pop("blinkt", None)
                library = importlib.import_module("blinkt")  # fresh, over the stand-in, with its real sleeps
            try:
                yield open_strip(driver, dev=dev), gpio  # whoever uses the strip closes it
            finally:
                if driver == "blinkt":
                    atexit.unregister(library._exit)


@dataclass
class Throughput:
    driver: str
    ms_per_frame: float
    calls_per_frame: float

    @property
    def fps(self) -> float:
        return 1000 / self.ms_per_frame


def throughput(driver: str, count: int, *, noop: bool = False, rounds: int = 3) -> Throughput:
    """The best of ``rounds`` rounds of ``count`` frames (the machine is shared: the best is the least disturbed)."""
    shown = frames(count)
    with strip_over(driver, noop=noop) as (strip, gpio):
        device = BlinktDevice(NODE, strip)
        best, calls = float("inf"), 0
        for _ in range(rounds):
            before = sum(gpio.calls.values())
            started = time.perf_counter()
            for frame in shown:
                device.show(frame, 0.2)
            best = min(best, time.perf_counter() - started)
            calls = sum(gpio.calls.values()) - before
        device.close()
        if not noop:  # what reached the pins is what we meant to show
            decoded = gpio.wire.frames()[:-1]  # the last one: close's dark frame
            expected = [list(f[NODE]) for f in shown] * rounds
            assert [[c for c, _ in f] for f in decoded] == expected, f"{driver}: wrong frames"
    return Throughput(driver, best * 1000 / count, calls / count)


# -- end to end ------------------------------------------------------------------------------------------
@dataclass
class TimedStrip:
    """A strip that times its writes."""

    inner: Strip
    durations: list[float] = field(default_factory=list)
    last: list[Pixel] = field(default_factory=list)

    @property
    def description(self) -> str:
        return self.inner.description

    def show(self, pixels: Sequence[Pixel], brightness: float) -> None:
        started = time.perf_counter()
        self.inner.show(pixels, brightness)
        self.durations.append(time.perf_counter() - started)
        self.last = list(pixels)

    def close(self) -> None:
        self.inner.close()


@dataclass
class EndToEnd:
    driver: str
    seconds: float
    animated_seconds: float
    turns_per_second: float
    gap_p50_ms: float
    gap_p99_ms: float
    writes: int
    write_p50_ms: float
    write_max_ms: float
    slow_writes: int
    last_frame_right: bool


def end_to_end(driver: str, broker_url: str, *, speed: float) -> EndToEnd:
    prefix = f"bench-{uuid.uuid4().hex[:6]}/"
    with strip_over(driver) as (strip, gpio):
        timed = TimedStrip(strip)
        config = AgentConfig(broker=parse_broker_url(broker_url), nodes=(NODE,),
                             agent_id=f"bench-blinkt-{prefix[6:-1]}", topics=Topics(prefix))
        agent = Agent(config, BlinktDevice(NODE, timed))
        turns = instrument_turns(agent)
        agent.start()
        if not agent.connection.wait_connected(10):
            raise RuntimeError("the agent did not connect")
        time.sleep(0.5)  # its subscriptions are in place
        animated = sample_while(lambda: replay(broker_url, prefix, speed), agent.board.animated)
        time.sleep(1.0)  # the last removal's flash ends, the strip settles
        shown = [f"{r:02x}{g:02x}{b:02x}" for r, g, b in timed.last]
        on_wire = [c for c, _ in gpio.wire.frames()[-1]]
        agent.stop()
    return summarise(driver, timed, turns, animated, last_right=on_wire == shown)


def replay(broker_url: str, prefix: str, speed: float) -> None:
    capture = load_capture(CAPTURES / "rolling-upgrade.jsonl")
    stats = replay_to_broker(capture, parse_broker_url(broker_url),
                             options=ReplayOptions(speed=speed, topic_prefix=prefix), connect_timeout=10)
    if stats.unconfirmed:
        raise RuntimeError(f"the broker did not confirm {stats.unconfirmed} publishes")


def instrument_turns(agent: Agent) -> list[float]:
    """Note the start of every render-loop turn (each turn asks the board for its frames once)."""
    turns: list[float] = []
    board_frames = agent.board.frames

    def frames_noted() -> dict[str, Frame]:
        turns.append(time.perf_counter())
        return board_frames()

    agent.board.frames = frames_noted  # type: ignore[method-assign]
    return turns


def sample_while(work: Callable[[], None], animated: Callable[[], bool]) -> list[tuple[float, float]]:
    """Run ``work`` on a thread; return the (start, end) intervals during which ``animated()`` held."""
    thread = threading.Thread(target=work, name="replay")
    thread.start()
    spans: list[tuple[float, float]] = []
    while thread.is_alive():
        started = time.perf_counter()
        thread.join(0.05)
        if animated():
            spans.append((started, time.perf_counter()))
    return spans


def summarise(driver: str, timed: TimedStrip, turns: list[float], animated: list[tuple[float, float]],
              *, last_right: bool) -> EndToEnd:
    inside = [t for t in turns if any(a <= t <= b for a, b in animated)]
    gaps = [b - a for a, b in itertools.pairwise(inside) if b - a < 0.5]  # not across idle waits
    seconds = sum(b - a for a, b in animated)
    return EndToEnd(
        driver=driver, seconds=turns[-1] - turns[0] if turns else 0.0, animated_seconds=seconds,
        turns_per_second=len(inside) / seconds if seconds else 0.0,
        gap_p50_ms=percentile(gaps, 50) * 1000, gap_p99_ms=percentile(gaps, 99) * 1000,
        writes=len(timed.durations), write_p50_ms=percentile(timed.durations, 50) * 1000,
        write_max_ms=max(timed.durations) * 1000, slow_writes=sum(d > 1 / 60 for d in timed.durations),
        last_frame_right=last_right,
    )


# -- report ----------------------------------------------------------------------------------------------
def report_throughput(results: Mapping[str, tuple[Throughput, Throughput]], library: Throughput) -> None:
    print("\n## Frames through the recording stand-ins (8 LEDs, 324 clock edges a frame)\n")
    print("| driver | ms/frame, recording stand-in | frames/s | GPIO calls/frame | x the library "
          "| ms/frame, no-op library (our code) | frames/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for driver, (rec, bare) in results.items():
        print(f"| {driver} | {rec.ms_per_frame:.3f} | {rec.fps:,.0f} | {rec.calls_per_frame:.0f} | "
              f"{rec.fps / library.fps:,.0f}x | {bare.ms_per_frame:.3f} | {bare.fps:,.0f} |")
    print(f"| blinkt library 0.1.2, real sleeps | {library.ms_per_frame:.1f} | {library.fps:.1f} | "
          f"{library.calls_per_frame:.0f} | 1x | | |")


def report_end_to_end(runs: Sequence[EndToEnd], speed: float) -> None:
    print(f"\n## The agent during rolling-upgrade.jsonl (speed {speed:g}, node {NODE}, real Mosquitto)\n")
    print("| strip | animating (s) | render turns/s while animating | turn gap p50 / p99 (ms) | device writes "
          "| write p50 / max (ms) | writes > 16.7 ms | last frame on the wire right |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        print(f"| {run.driver} | {run.animated_seconds:.1f} | {run.turns_per_second:.1f} | {run.gap_p50_ms:.1f} / "
              f"{run.gap_p99_ms:.1f} | {run.writes} | {run.write_p50_ms:.2f} / "
              f"{run.write_max_ms:.2f} | {run.slow_writes} | {'yes' if run.last_frame_right else 'NO'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.blinkt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames; the capture at double speed")
    args = parser.parse_args(argv)
    count, library_count, speed = (200, 10, 2.0) if args.quick else (1000, 40, 1.0)
    results = {d: (throughput(d, count), throughput(d, count, noop=True)) for d in DRIVER_NAMES}
    library = throughput("blinkt", library_count, rounds=1)
    report_throughput(results, library)
    fastest = min(results, key=lambda d: results[d][0].ms_per_frame)
    broker = start_mosquitto(persistence=False)
    try:
        url = f"mqtt://127.0.0.1:{broker.port}"
        runs = [end_to_end(fastest, url, speed=speed), end_to_end("blinkt", url, speed=speed)]
    finally:
        broker.stop()
    report_end_to_end(runs, speed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
