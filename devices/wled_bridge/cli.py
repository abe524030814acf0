"""``python -m devices.wled_bridge``: show one node's pods on a WLED strip.

The LED agent with a WLED device: same broker options, topics, session and subscriber
algorithm as ``python -m led_agent``, so the strip shows what a Blinkt! shows. Usage
errors (bad node name or WLED address, a brightness outside 0..1) print one line and
exit 2. Without ``--leds`` the bridge asks WLED how many LEDs it drives; a WLED that
cannot be reached then exits 1 (pass ``--leds`` to start anyway and let the render loop
retry). Once running, an unreachable WLED is logged and retried, never fatal.
"""

from __future__ import annotations

import argparse
import logging

from bus.arguments import UsageParser, validated
from bus.shell import add_broker_option, add_logging_options, broker_from_args, configure_logging, run_until_stopped
from bus.topics import Topics, agent_id_from, validate_node, validate_prefix
from devices.wled_bridge.wled import (
    DEFAULT_TIMEOUT_SECONDS,
    WledClient,
    WledDevice,
    WledUrl,
    WledUrlError,
    fetch_led_count,
    parse_wled_url,
)
from led_agent.agent import Agent, AgentConfig, default_agent_id
from led_agent.backends import DeviceError
from led_agent.cli import brightness_value, leds_value

log = logging.getLogger("devices.wled_bridge")

DEFAULT_WRITES_PER_SECOND = 20.0


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="python -m devices.wled_bridge",
                     description="Show the pods of a Kubernetes node on a WLED-controlled LED strip.")
    add = parser.add_argument
    add("--node", required=True, type=validated(validate_node), help="the node to show")
    add("--wled", required=True, type=_wled_url, help="the WLED controller, e.g. http://wled.local")
    add("--leds", type=leds_value, help="LEDs to use (default: all, as WLED reports in /json/info)")
    add("--segment", type=_segment, default=0, help="WLED segment to draw on (default: %(default)s)")
    add("--brightness", type=brightness_value, help="0..1, sent as WLED's master brightness (default: WLED's own)")
    add("--max-writes-per-second", type=_rate, default=DEFAULT_WRITES_PER_SECOND,
        help="at most this many POSTs to WLED a second (default: %(default)s)")
    add("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="HTTP timeout in seconds")
    add("--topic-prefix", default="", type=validated(validate_prefix), help="prefix for all topics")
    add("--agent-id", type=validated(agent_id_from),
        help="MQTT client id, session and agents/<id>/ topics; '.' becomes '_' (default: wled-<WLED host> and a "
             "digest of the node, segment and prefix shown)")
    add_broker_option(parser)
    add_logging_options(parser)
    return parser


def _wled_url(text: str) -> WledUrl:
    try:
        return parse_wled_url(text)
    except WledUrlError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _segment(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a segment id (0, 1, ...): {text!r}")
    return int(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 60:  # the agent renders at most 60 frames a second
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 60: {text!r}")
    return value


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace, *, leds: int) -> AgentConfig:
    return AgentConfig(
        broker=broker_from_args(parser, args),
        nodes=(args.node,),
        agent_id=args.agent_id or default_agent_id(nodes=(args.node,), device=f"wled-segment-{args.segment}",
                                                   prefix=args.topic_prefix, host=f"wled-{args.wled.host}"),
        leds=leds,
        brightness=1.0 if args.brightness is None else args.brightness,
        topics=Topics(args.topic_prefix),
        fps=args.max_writes_per_second,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config_from_args(parser, args, leds=1)  # usage errors first, before any network
    configure_logging(args)
    try:
        leds = args.leds or fetch_led_count(args.wled, timeout=args.timeout)
    except DeviceError as e:
        log.error("%s (pass --leds to start without asking WLED)", e)
        return 1
    config = config_from_args(parser, args, leds=leds)
    device = WledDevice(WledClient(args.wled, timeout=args.timeout), node=args.node, segment=args.segment,
                        brightness=args.brightness)
    log.info("bridge %s showing %s on %d LEDs of %s via %s", config.agent_id, args.node, leds, args.wled,
             config.broker.redacted())
    agent = Agent(config, device)
    return run_until_stopped(agent, watched=[agent.connection])  # exit 3 if another client takes our id
