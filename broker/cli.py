"""``python -m broker``: the embedded fallback broker (amqtt) in the foreground, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from broker.embedded import serve
from bus.arguments import UsageParser
from bus.shell import add_logging_options, configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="python -m broker", description="The embedded fallback MQTT broker (amqtt, MQTT 3.1.1).")
    parser.add_argument("--port", type=int, default=1883, help="(default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    add_logging_options(parser, level="WARNING")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    asyncio.run(serve(args.port, args.host))
    return 0
