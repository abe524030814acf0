"""``python -m demo``: the whole of Shine a Light on one machine, no cluster needed.

    python -m demo [--nodes 3] [--scenario tour] [--speed 1] [--headless --duration S]
    python -m demo --replay tests/captures/rolling-upgrade.jsonl

``make demo`` runs ``python -m demo --scenario tour``. What starts, and in which order,
is ``demo/running.py``'s docstring.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bus.arguments import UsageParser, positive
from bus.shell import add_logging_options, configure_logging, stop_on_signals
from demo.running import Demo, DemoOptions


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="python -m demo",
                         description="Broker, simulated cluster, watchers, console and terminal LEDs on one machine.")
    add = parser.add_argument
    add("--nodes", type=positive(int), default=3, help="simulated nodes (default: %(default)s)")
    add("--broker", help="use this broker (mqtt://host:port) instead of starting one")
    add("--embedded-broker", action="store_true",
        help="start the embedded broker even where Mosquitto is installed (as on a bare machine)")
    add("--topic-prefix", default="", help="prefix for all bus topics")
    add("--console-host", default="127.0.0.1", help="console address (default: %(default)s)")
    add("--console-port", type=int, default=8080, help="console port (default: %(default)s)")
    add("--scenario", choices=["tour"], help="run the guided tour of every strategy")
    add("--speed", type=positive(float), default=1.0, help="time factor for every timing")
    add("--headless", action="store_true", help="no terminal view (for scripts and CI)")
    add("--duration", type=positive(float), help="exit after this many seconds")
    add("--leds", type=positive(int), default=8, help="LEDs per node in the terminal view")
    add("--seed", type=int, default=0, help="seed of the simulation (pod names, startup times)")
    add("--replay", type=Path, help="instead: loop this captured stream through the terminal view")
    add_logging_options(parser, level="WARNING")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.replay is not None and not args.replay.is_file():
        parser.error(f"--replay: no such capture file: {args.replay}")
    configure_logging(args)
    options = DemoOptions(
        nodes=args.nodes, broker=args.broker, embedded_broker=args.embedded_broker, topic_prefix=args.topic_prefix,
        console_host=args.console_host, console_port=args.console_port, scenario=args.scenario, speed=args.speed,
        headless=args.headless, duration=args.duration, leds=args.leds, seed=args.seed, replay=args.replay,
    )
    return Demo(options, stop=stop_on_signals()).run()
