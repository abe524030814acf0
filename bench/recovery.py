"""Recovery: how long after a fault ends the lights are right again.

    python -m bench.recovery                          # every fault, this checkout's watcher (~4 minutes)
    python -m bench.recovery --only drops,429         # some of them
    git archive main | tar -x -C /tmp/sal-main        # another checkout's watcher, for a before/after
    python -m bench.recovery --watcher-root /tmp/sal-main

The rig (``bench/harness.py``): Mosquitto, the simulated API server in a process of its
own (bookmarks every ``--bookmark-interval`` s, default 5), one ``python -m watcher --node
node-1`` process (from ``--watcher-root``), and the LED agent in this process with a
device that timestamps every frame. Only the watcher process changes between a before
and an after run; the agent and the broker connection code are this checkout's.

Each fault comes with a change: during the fault a pod of node-1 gets a colour never
used before. *Correct lights* is the agent's frame showing that colour; for broker
outages also the retained snapshot on the broker (what a device that starts now gets)
holding it. *Fault end*:

- ``drops``: a dropped watch stream is instant; measured from the drop, seven times in a
  row 1.5 s apart (the issue's "7 single drops": a backoff that never resets grows);
- ``429``: three 429 answers with Retry-After 2, ``500``: a burst of five 500s — from the
  server's answer to the last faulted request (its request log; one system clock);
- ``stall``: the watch (open for 2.5 bookmark intervals: a watcher that has been
  watching a while) goes silent; the fault never ends by itself, so from the stall
  (detecting it is the watcher's job: about two bookmark intervals);
- ``broker5``/``broker20``/``broker60``: the broker is down that long; from the moment it
  listens again (the reconnect delay lives in ``bus/connection.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import ROOT, Bench, report
from bench.workload import color_of
from broker.launching import RunningBroker, start_mosquitto

NODE = "node-1"
SETTLE_SECONDS = 3.0
LIGHTS_TIMEOUT = 300.0


class Rig:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self._k = 500_000

    def change(self) -> str:
        """Recolour the node's first pod with a colour never used before."""
        color = color_of(self._k)
        self._k += 1
        self.bench.recolor(NODE, 0, color)
        return color

    def shown(self, color: str, timeout: float = LIGHTS_TIMEOUT) -> float:
        """When the agent's frame first showed ``color``."""
        seen = self.bench.device.first_seen
        self.bench.wait_until(lambda: (NODE, color) in seen, timeout, f"the frame showing {color}")
        return seen[(NODE, color)]

    def settle(self) -> None:
        """Let the previous fault pass, then prove the pipeline is healthy: one change, seen."""
        time.sleep(SETTLE_SECONDS)
        self.shown(self.change(), timeout=120)

    def requests_since(self, mark: int) -> list[float]:
        """When the pod requests after the first ``mark`` arrived (the API process's monotonic clock)."""
        records = self.bench.api.call("requests", "records")
        return [r.at for r in records[mark:] if r.kind in ("list", "watch")]

    def request_count(self) -> int:
        return int(self.bench.api.call("requests", "count"))


def drops(rig: Rig) -> dict[str, float]:
    delays = []
    for _ in range(7):
        started = time.monotonic()
        rig.bench.api.call("api", "drop_watches")
        delays.append(rig.shown(rig.change()) - started)
        time.sleep(1.5)
    return {f"drop_{k + 1}_s": d for k, d in enumerate(delays)} | {"max_s": max(delays)}


def failing(rig: Rig, *, count: int, status: int, retry_after: int | None) -> dict[str, float]:
    mark = rig.request_count()
    rig.bench.api.call("faults", "fail_next", count, status=status, kind="any", retry_after=retry_after)
    started = time.monotonic()
    rig.bench.api.call("api", "drop_watches")
    shown = rig.shown(rig.change())
    arrivals = rig.requests_since(mark)
    fault_end = arrivals[count - 1]
    return {"fault_end_to_lights_s": shown - fault_end, "fault_start_to_lights_s": shown - started,
            "last_wait_s": arrivals[count] - fault_end}


def stall(rig: Rig) -> dict[str, float]:
    time.sleep(2.5 * rig.bench.bookmark_interval)  # a watch that has been open a while, as they are
    started = time.monotonic()
    rig.bench.api.call("api", "stall_watches")
    shown = rig.shown(rig.change())
    rig.bench.api.call("api", "resume_watches")
    return {"stall_to_lights_s": shown - started, "bookmark_interval_s": rig.bench.bookmark_interval}


def retained_holds(port: int, color: str, timeout: float) -> float:
    """When a fresh subscriber on the broker first sees node-1's snapshot holding ``color``."""
    found = threading.Event()
    when: list[float] = []

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload and any(p.get("color") == color for p in json.loads(msg.payload).get("pods", [])):
            when.append(time.monotonic())
            found.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-retained-{color}")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(f"nodes/{NODE}/state", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not found.wait(timeout):
            raise TimeoutError(f"no retained snapshot with {color} within {timeout:g} s")
        return when[0]
    finally:
        client.loop_stop()
        client.disconnect()


def broker_outage(rig: Rig, seconds: float) -> dict[str, float]:
    broker = rig.bench.broker
    assert isinstance(broker, RunningBroker), "the broker outages need the rig's own Mosquitto"
    port = broker.port
    broker.stop()
    time.sleep(1)  # the watcher sees the change while the broker is away
    color = rig.change()
    time.sleep(max(0.0, seconds - 1))
    rig.bench.broker = start_mosquitto(port=port, persistence=False)
    back = time.monotonic()
    retained = retained_holds(port, color, LIGHTS_TIMEOUT)
    return {"back_to_retained_truth_s": retained - back, "back_to_lights_s": rig.shown(color) - back}


SCENARIOS: dict[str, Callable[[Rig], dict[str, float]]] = {
    "drops": drops,
    "429": lambda rig: failing(rig, count=3, status=429, retry_after=2),
    "500": lambda rig: failing(rig, count=5, status=500, retry_after=None),
    "stall": stall,
    "broker5": lambda rig: broker_outage(rig, 5),
    "broker20": lambda rig: broker_outage(rig, 20),
    "broker60": lambda rig: broker_outage(rig, 60),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__.split("\n")[0])
    parser.add_argument("--watcher-root", type=Path, default=ROOT, help="checkout whose watcher runs (default: this)")
    parser.add_argument("--bookmark-interval", type=float, default=5.0, help="the API server's (default: 5 s)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    bench = Bench(nodes=[NODE], pods_per_node=8, bookmark_interval=args.bookmark_interval)
    results: dict[str, dict[str, float]] = {}
    try:
        bench.start_watchers(root=args.watcher_root)
        bench.start_agent()
        rig = Rig(bench)
        rig.settle()
        for name in chosen:
            results[name] = SCENARIOS[name](rig)
            print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in results[name].items()), file=sys.stderr,
                  flush=True)
            rig.settle()
    finally:
        bench.close()
    if not args.json:
        print(f"watcher from {args.watcher_root}, API bookmarks every {args.bookmark_interval:g} s")
    report(results, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
