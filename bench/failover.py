"""Failover and recovery times of the bus: a broker dies, how long until the lights follow again?

    python -m bench.failover            # all scenarios, ~2 minutes
    python -m bench.failover --quick    # one repetition each

The pipeline is ``bench.harness.Bench``'s (API stand-in → ``python -m watcher`` per node →
broker → in-process agent), with every part given the whole broker list. A changer
recolours one pod every 20 ms with a colour never used before, so the first frame that
shows a colour asked for *after* the fault is exactly when events flow again.

- ``mosquitto-pair``: two independent Mosquittos, every part on ``a,b``; the one in
  use is killed with SIGKILL (then started again for the next round, on its port).
  Failover time = kill → first frame of a change made after the kill.
- ``nats-watchers-server`` / ``nats-agents-server``: a 3-server NATS cluster, watchers
  on the first server and the agent on the second; SIGKILL the watchers' server, then
  (after it is back) the agent's.

One broker down and back (5, 20, 60 s): ``python -m bench.recovery --only
broker5,broker20,broker60``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

from bench.harness import Bench
from broker.launching import start_mosquitto
from broker.nats_cluster import NatsCluster, start_nats_cluster

NODE = "node-1"
CHANGE_EVERY = 0.02


@dataclass
class Changer:
    """Recolours pod 0 of the node every 20 ms with a fresh colour; remembers when each was asked for."""

    bench: Bench
    asked: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _next: int = 0x100000

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CHANGE_EVERY):
            color = f"{self._next:06x}"
            self._next += 1
            self.asked.append((time.monotonic(), color))
            self.bench.recolor(NODE, 0, color)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def first_shown_after(self, moment: float, timeout: float = 60.0) -> float:
        """Seconds from ``moment`` to the first frame showing a colour asked for after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.bench.device.first_seen
            shown = [seen[(NODE, c)] for t, c in list(self.asked) if t >= moment and (NODE, c) in seen]
            if shown:
                return min(shown) - moment
            time.sleep(0.005)
        raise TimeoutError("no change shown after the fault")


def _running_bench(urls: tuple[str, ...], *, rotate: bool) -> tuple[Bench, Changer]:
    bench = Bench(nodes=[NODE], pods_per_node=8, urls=urls, rotate=rotate)
    bench.start_watchers()
    bench.start_agent()
    bench.wait_until(lambda: "ffff00" in bench.device.last.get(NODE, ()), 60, "the first frame")
    changer = Changer(bench)
    changer.start()
    time.sleep(1.0)  # changes flowing
    return bench, changer


def mosquitto_pair(rounds: int) -> list[float]:
    brokers = [start_mosquitto(persistence=False) for _ in range(2)]
    bench, changer = _running_bench(tuple(b.url for b in brokers), rotate=False)
    times = []
    try:
        for round_number in range(rounds):
            victim = round_number % 2  # every part is on the same one: the first, then the other
            brokers[victim].kill()
            times.append(changer.first_shown_after(time.monotonic()))
            brokers[victim] = start_mosquitto(port=brokers[victim].port, persistence=False)
            time.sleep(2.0)  # settled: a real outage is rarer than one every second
    finally:
        changer.stop()
        bench.close()
        for broker in brokers:
            broker.stop()
    return times


def nats_cluster(rounds: int) -> dict[str, list[float]]:
    cluster: NatsCluster = start_nats_cluster()
    bench, changer = _running_bench(cluster.urls, rotate=True)
    times: dict[str, list[float]] = {"nats-watchers-server": [], "nats-agents-server": []}
    try:
        for _ in range(rounds):
            for name in ("nats-watchers-server", "nats-agents-server"):
                victim = _serving(bench, cluster) if name == "nats-agents-server" else 0
                cluster.kill(victim)
                times[name].append(changer.first_shown_after(time.monotonic()))
                cluster.restart(victim)
                time.sleep(2.0)
    finally:
        changer.stop()
        bench.close()
        cluster.stop()
    return times


def _serving(bench: Bench, cluster: NatsCluster) -> int:
    """The server the agent is connected to now."""
    assert bench.agent is not None
    port = bench.agent.connection.url.port
    return next(i for i, server in enumerate(cluster.servers) if server.mqtt_port == port)


def summary(values: list[float]) -> dict[str, float]:
    return {"runs": len(values), "median_s": statistics.median(values), "max_s": max(values), "min_s": min(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repetition of each scenario")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 4
    results = {"mosquitto-pair": summary(mosquitto_pair(rounds))}
    results |= {name: summary(values) for name, values in nats_cluster(max(1, rounds // 2)).items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, numbers in results.items():
            print(f"{name:24s} " + "  ".join(f"{k} {v:6.2f}" for k, v in numbers.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
