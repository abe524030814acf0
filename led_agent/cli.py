"""``python -m led_agent``: show the pods of one or more nodes on an LED device.

Usage errors (a bad node name, ``--leds 0``, a brightness outside 0..1, a bad broker URL,
options the device cannot honour) print one line and exit with 2, before anything is
started. A broker that is down is not an error: the agent keeps retrying and logs it.
A device that cannot be opened (``--device blinkt`` off a Raspberry Pi), or an
``--http-port`` that cannot be served, exits with 1; another client taking over the
agent's MQTT session (the same ``--agent-id`` twice) stops the agent with exit status 3,
after one log line saying so.
Logs always go to stderr: stdout belongs to the ``json`` and ``terminal`` devices.

``--http-port PORT`` serves ``/healthz``, ``/readyz`` and ``/metrics`` (``bus.health``)
while the agent runs; ``--max-pods`` caps the pods held per node (the rest are counted
and shown as overflow on the last LED).
"""

from __future__ import annotations

import argparse
import logging

from bus.arguments import UsageParser, number, positive, validated
from bus.health import HealthServer
from bus.shell import (
    add_broker_option,
    add_health_options,
    add_logging_options,
    broker_from_args,
    configure_logging,
    run_until_stopped,
    serve_health,
)
from bus.topics import Topics, agent_id_from, validate_node, validate_prefix
from led_agent.agent import DEFAULT_BRIGHTNESS, DEFAULT_LEDS, Agent, AgentConfig, default_agent_id
from led_agent.backends import (
    DEVICE_NAMES,
    GPIO_DRIVER_NAMES,
    DeviceError,
    DeviceOptionError,
    check_options,
    open_device,
)
from led_agent.board import DEFAULT_MAX_PODS

log = logging.getLogger("led_agent")


leds_value = number(1, strict=False, kind=int)
brightness_value = number(0, strict=False, maximum=1)


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="python -m led_agent",
        description="Subscribe to the pods of Kubernetes nodes over MQTT and show them as LEDs.",
    )
    add = parser.add_argument
    add("--node", action="append", dest="nodes", required=True, metavar="NODE", type=validated(validate_node),
        help="a node to show (repeatable; one row per node)")
    add("--device", choices=DEVICE_NAMES, default="terminal", help="where to show (default: %(default)s)")
    add("--gpio-driver", choices=GPIO_DRIVER_NAMES,
        help="--device blinkt only: how to drive its pins (default: auto, the fastest that opens)")
    add("--leds", type=leds_value, default=DEFAULT_LEDS, help="LEDs per node (default: %(default)s)")
    add("--brightness", type=brightness_value, default=DEFAULT_BRIGHTNESS,
        help="0..1, applied by the device (default: %(default)s)")
    add("--topic-prefix", default="", type=validated(validate_prefix),
        help="prefix for all topics, e.g. 'shinealight/'")
    add("--agent-id", type=validated(agent_id_from),
        help="MQTT client id, session and agents/<id>/ topics; '.' becomes '_' (default: the host name and a "
             "digest of the nodes, device and prefix shown)")
    add("--publish-frames", action="store_true", help="publish what is shown, retained, to agents/<id>/frame")
    add("--max-pods", type=positive(int), default=DEFAULT_MAX_PODS, metavar="N",
        help="pods held per node; more are counted and shown as overflow (default: %(default)s)")
    add_broker_option(parser)
    add_health_options(parser)
    add_logging_options(parser)
    return parser


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> AgentConfig:
    """Check what argparse cannot (URL, device options); exit 2 with one line if wrong."""
    nodes = tuple(dict.fromkeys(args.nodes))  # a node named twice is shown once
    try:
        check_options(args.device, nodes=nodes, leds=args.leds, gpio_driver=args.gpio_driver)
    except DeviceOptionError as e:
        parser.error(str(e))
    broker = broker_from_args(parser, args)
    return AgentConfig(
        broker=broker,
        nodes=nodes,
        agent_id=args.agent_id or default_agent_id(nodes=nodes, device=args.device, prefix=args.topic_prefix),
        leds=args.leds,
        brightness=args.brightness,
        topics=Topics(args.topic_prefix),
        publish_frames=args.publish_frames,
        max_pods=int(args.max_pods),
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(parser, args)
    configure_logging(args)
    try:
        device = open_device(args.device, nodes=config.nodes, leds=config.leds, gpio_driver=args.gpio_driver)
    except DeviceError as e:
        log.error("%s", e)
        return 1
    log.info("agent %s showing %s on %s via %s", config.agent_id, ", ".join(config.nodes), args.device,
             config.broker.redacted())
    agent = Agent(config, device)
    try:  # exit 3 if another client takes our id
        return run_until_stopped(Served(agent, args), watched=[agent.connection])
    except OSError as e:  # the health port is taken, or the address is not ours
        log.error("cannot serve health and metrics on %s:%s: %s", args.http_host, args.http_port, e)
        return 1


class Served:
    """The agent, and its health server (``--http-port``) from the moment the agent runs.

    Started after the agent, so ``/healthz`` never answers for an agent not started yet;
    stopped before it. A port that cannot be served stops the agent again and raises.
    """

    def __init__(self, agent: Agent, args: argparse.Namespace) -> None:
        self._agent = agent
        self._args = args
        self._health: HealthServer | None = None

    def start(self) -> None:
        self._agent.start()
        try:
            self._health = serve_health(self._agent, self._args)
        except OSError:
            self._agent.stop()
            raise

    def stop(self) -> None:
        if self._health is not None:
            self._health.stop()
        self._agent.stop()
