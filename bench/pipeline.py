"""End-to-end numbers for the bus: latency, throughput against raw paho, bursts, memory.

    python -m bench.pipeline            # all measurements, ~2 minutes
    python -m bench.pipeline --quick    # smaller counts, for a smoke run
    python -m bench.pipeline --engine nats   # the same on a 3-server NATS cluster

Pipeline = a pod change in the API server's store → the watcher (a real `python -m
watcher` process per node) → Mosquitto → the agent (in this process, a recording
device) → the frame that shows it. The baseline is raw paho publish → Mosquitto →
subscribe through the same broker, measured in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import ROOT, Bench, percentile, report, rss_mib
from bench.workload import color_of
from broker.engines import ENGINES, start_engine


def raw_paho(url_port: int, *, count: int, rate: float | None, sub_port: int | None = None) -> dict[str, float]:
    """Publish ``count`` QoS 1 messages (paced at ``rate``/s, or flat out) and time their arrival.

    ``sub_port``: subscribe through another server of a cluster (as the pipeline's agent does).
    """
    topic = f"bench/{uuid.uuid4().hex[:8]}"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    done = threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        k = int(msg.payload[:10])
        latencies.append(time.monotonic() - sent[k])
        if len(latencies) == count:
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{topic[-8:]}")
    sub.on_message = on_message
    sub.connect("127.0.0.1", sub_port or url_port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{topic[-8:]}")
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", url_port)
    pub.loop_start()
    time.sleep(0.5)
    padding = b" " * 250  # about the size of a pod event
    started = time.monotonic()
    for k in range(count):
        if rate:
            delay = started + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent[k] = time.monotonic()
        pub.publish(topic, f"{k:010d}".encode() + padding, qos=1)
    done.wait(60)
    elapsed = time.monotonic() - started
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    return {"per_second": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


def pipeline_latency(bench: Bench, *, rate: float, seconds: float) -> dict[str, float]:
    """Recolour pods round-robin over all nodes at ``rate``/s; time each change to its frame."""
    count = int(rate * seconds)
    changed: list[tuple[str, str, float]] = []
    started = time.monotonic()
    for k in range(count):
        delay = started + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        node = bench.nodes[k % len(bench.nodes)]
        color = color_of(k)
        changed.append((node, color, time.monotonic()))
        bench.recolor(node, (k // len(bench.nodes)) % bench.pods_per_node, color)
    bench.wait_until(lambda: all((n, c) in bench.device.first_seen for n, c, _ in changed), 30, "all frames")
    latencies = [bench.device.first_seen[(n, c)] - t for n, c, t in changed]
    return {"events": count, "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies) * 1000}


def pipeline_throughput(bench: Bench, *, count: int, offset: int) -> dict[str, float]:
    """Events/s through API watch stream → watcher → broker → agent, producer excluded.

    The watches are stalled while ``count`` recolours go into the store, then released:
    the API server streams the backlog as fast as the pipeline takes it, and we time
    from the release to the agent having applied every event.
    """
    agent = bench.agent
    assert agent is not None
    applied_before, resyncs_before = agent.counters.events_applied, agent.counters.resyncs
    final = _final_colors(bench, count=count, offset=offset)
    bench.api.prepare_backlog(count, offset)
    started = time.monotonic()
    bench.api.release_backlog()

    def done() -> bool:  # every event applied; or (an engine that delivered some late) every pod in its last colour
        return agent.counters.events_applied - applied_before >= count or all(
            {e.pod: e.color for e in agent.board.entries(node)}.items() >= colors.items()
            for node, colors in final.items())

    bench.wait_until(done, 120, "all events applied, or the final colours shown")
    elapsed = time.monotonic() - started
    return {"events": count, "per_second": count / elapsed,
            "applied_fraction": (agent.counters.events_applied - applied_before) / count,
            "resyncs": agent.counters.resyncs - resyncs_before}


def _final_colors(bench: Bench, *, count: int, offset: int) -> dict[str, dict[str, str]]:
    """The colour each pod ends with after ``prepare_backlog(count, offset)`` (``bench.apiprocess``)."""
    final: dict[str, dict[str, str]] = {}
    for k in range(count):
        node = bench.nodes[k % len(bench.nodes)]
        final.setdefault(node, {})[f"{node}-p{(k // len(bench.nodes)) % bench.pods_per_node}"] = color_of(offset + k)
    return final


def burst(bench: Bench, *, count: int, offset: int) -> dict[str, float]:
    """``count`` recolours to one node at once: device writes per second and the final frame."""
    node = bench.nodes[0]
    writes_before = len(bench.device.writes)
    final: dict[int, str] = {}
    started = time.monotonic()
    for k in range(count):
        index, color = k % bench.pods_per_node, color_of(offset + k)
        final[index] = color
        bench.recolor(node, index, color)
    expected = tuple(final[i] for i in range(bench.pods_per_node))
    bench.wait_until(lambda: bench.device.last.get(node, ())[: bench.pods_per_node] == expected, 60, "final frame")
    elapsed = time.monotonic() - started
    writes = bench.device.writes[writes_before:]
    per_second = max(sum(1 for w in writes if s <= w < s + 1.0) for s in writes) if writes else 0
    return {"events": count, "seconds": elapsed, "device_writes": len(writes), "max_writes_per_second": per_second,
            "final_frame_right": 1.0}


def memory(pods: int) -> dict[str, float]:
    """RSS of a watcher and an agent process with ``pods`` pods on their node."""
    bench = Bench(nodes=["node-1"], pods_per_node=pods)
    try:
        bench.start_watchers()
        agent = subprocess.Popen([sys.executable, "-m", "led_agent", "--node", "node-1", "--device", "null",
                                  "--broker", bench.subscribers, "--agent-id", "bench-rss"], cwd=ROOT,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = bench.start_agent(leds=pods)
        bench.wait_until(lambda: probe.board.entries("node-1").__len__() == pods, 30, "snapshot with all pods")
        time.sleep(2)
        result = {"pods": pods, "watcher_rss_mib": rss_mib(bench.watchers[0].pid), "agent_rss_mib": rss_mib(agent.pid)}
        agent.terminate()
        agent.wait(10)
        return result
    finally:
        bench.close()


def _wait_initial(bench: Bench) -> None:
    bench.wait_until(lambda: all("ffff00" in bench.device.last.get(n, ()) for n in bench.nodes), 60, "initial frames")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--engine", choices=ENGINES, default="mosquitto",
                        help="the MQTT engine (broker.engines); on a cluster (nats) watchers publish through the "
                             "first server and the agent subscribes through the second (default: %(default)s)")
    args = parser.parse_args(argv)
    scale = 0.2 if args.quick else 1.0
    results: dict[str, dict[str, float]] = {}

    broker = start_engine(args.engine)
    try:
        pub, sub = (int(url.rsplit(":", 1)[1]) for url in (broker.urls[0], broker.urls[1 % len(broker.urls)]))
        results["paho_latency_100_per_s"] = raw_paho(pub, count=int(1000 * scale), rate=100, sub_port=sub)
        results["paho_throughput"] = raw_paho(pub, count=int(5000 * scale), rate=None, sub_port=sub)
    finally:
        broker.stop()

    nodes = [f"node-{i}" for i in range(1, 11)]
    bench = Bench(nodes=nodes, pods_per_node=8, engine=args.engine)
    try:  # one watcher process per node, as the DaemonSet runs them
        bench.start_watchers()
        bench.start_agent()
        _wait_initial(bench)
        results["pipeline_latency_100_per_s_10_nodes"] = pipeline_latency(bench, rate=100, seconds=20 * scale)
        results["pipeline_throughput_10_watchers"] = pipeline_throughput(bench, count=int(3000 * scale), offset=100_000)
        results["burst_one_node"] = burst(bench, count=1000, offset=200_000)
    finally:
        bench.close()
    bench = Bench(nodes=nodes, pods_per_node=8, engine=args.engine)
    try:  # one --all-nodes watcher process for the same 10 nodes
        bench.start_watchers(all_nodes=True)
        bench.start_agent()
        _wait_initial(bench)
        results["pipeline_throughput_all_nodes_watcher"] = pipeline_throughput(bench, count=int(3000 * scale),
                                                                               offset=300_000)
    finally:
        bench.close()
    results["memory_110_pods"] = memory(110)
    raw = results["paho_throughput"]["per_second"]
    results["ratio"] = {
        "10_watchers_vs_raw_paho": results["pipeline_throughput_10_watchers"]["per_second"] / raw,
        "all_nodes_watcher_vs_raw_paho": results["pipeline_throughput_all_nodes_watcher"]["per_second"] / raw,
    }

    report(results, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
