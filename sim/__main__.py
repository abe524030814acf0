"""``python -m sim``: the simulated cluster.

    python -m sim demo [--nodes 3] [--scenario tour] [--speed 1] [--headless --duration S]
    python -m sim demo --replay tests/captures/rolling-upgrade.jsonl
    python -m sim serve [--nodes 3] [--kubeconfig sim.kubeconfig] [--port 0]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from bus.arguments import UsageParser, positive
from sim.apiserver import ApiServer
from sim.clock import RealClock
from sim.cluster import Cluster
from sim.demo import Demo, DemoOptions
from sim.kubeconfig import write_kubeconfig

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="python -m sim", description="The simulated Kubernetes cluster.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="broker, simulated cluster, watchers, console and terminal LEDs")
    demo.add_argument("--nodes", type=positive(int), default=3, help="simulated nodes (default: %(default)s)")
    demo.add_argument("--broker", help="use this broker (mqtt://host:port) instead of starting one")
    demo.add_argument("--embedded-broker", action="store_true",
                      help="start the embedded broker even where Mosquitto is installed (as on a bare machine)")
    demo.add_argument("--topic-prefix", default="", help="prefix for all bus topics")
    demo.add_argument("--console-host", default="127.0.0.1", help="console address (default: %(default)s)")
    demo.add_argument("--console-port", type=int, default=8080, help="console port (default: %(default)s)")
    demo.add_argument("--scenario", choices=["tour"], help="run the guided tour of every strategy")
    demo.add_argument("--speed", type=positive(float), default=1.0, help="time factor for every timing")
    demo.add_argument("--headless", action="store_true", help="no terminal view (for scripts and CI)")
    demo.add_argument("--duration", type=positive(float), help="exit after this many seconds")
    demo.add_argument("--leds", type=positive(int), default=8, help="LEDs per node in the terminal view")
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulation (pod names, startup times)")
    demo.add_argument("--replay", type=Path, help="instead: loop this captured stream through the terminal view")
    demo.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve = commands.add_parser("serve", help="only the simulated cluster's API endpoint, with a kubeconfig")
    serve.add_argument("--nodes", type=positive(int), default=3)
    serve.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    serve.add_argument("--kubeconfig", type=Path, default=Path("sim.kubeconfig"), help="where to write it")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    cluster = Cluster(nodes=args.nodes, clock=RealClock())
    running = cluster.start()
    api = ApiServer(cluster.store, port=args.port).start()
    path = write_kubeconfig(args.kubeconfig, api.url)
    print(f"API {api.url}; kubeconfig {path} (python -m watcher --node {cluster.nodes[0]} --kubeconfig {path})",
          flush=True)
    stop.wait()
    api.stop()
    running.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format=LOG_FORMAT)
    stop = _stop_on_signals()
    if args.command == "serve":
        return _serve(args, stop)
    if args.replay is not None and not args.replay.is_file():
        build_parser().error(f"--replay: no such capture file: {args.replay}")
    options = DemoOptions(
        nodes=args.nodes, broker=args.broker, embedded_broker=args.embedded_broker, topic_prefix=args.topic_prefix,
        console_host=args.console_host,
        console_port=args.console_port, scenario=args.scenario, speed=args.speed, headless=args.headless,
        duration=args.duration, leds=args.leds, seed=args.seed, replay=args.replay,
    )
    return Demo(options, stop=stop).run()


if __name__ == "__main__":
    sys.exit(main())
