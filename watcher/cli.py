"""``python -m watcher``: publish the pods of one node (or all nodes) to the bus."""

from __future__ import annotations

import argparse
import logging

from bus.arguments import UsageParser, number, positive, validated
from bus.shell import (
    add_broker_option,
    add_health_options,
    add_logging_options,
    broker_from_args,
    configure_logging,
    run_until_stopped,
    serve_health,
)
from bus.topics import TopicError, Topics, validate_node
from watcher.errors import KubeError
from watcher.homeassistant import DEFAULT_PREFIX, validate_discovery_prefix
from watcher.kube import PodApi, load_configuration
from watcher.service import Watcher, WatcherConfig

log = logging.getLogger("watcher")


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="python -m watcher",
        description="Watch the pods of a Kubernetes node and publish them as LED events over MQTT.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--node", help="the node to watch (in a DaemonSet: spec.nodeName via the downward API)")
    where.add_argument("--all-nodes", action="store_true", help="one process watches and publishes every node")
    parser.add_argument("--namespace", action="append", dest="namespaces", metavar="NS",
                        help="watch only this namespace (repeatable; default: all namespaces)")
    parser.add_argument("--selector", default="blinkt=show", help="label selector of shown pods (default: %(default)s)")
    parser.add_argument("--color-label", default="blinktColor", help="label holding the colour (default: %(default)s)")
    parser.add_argument("--version-colors", action=argparse.BooleanOptionalAction, default=True,
                        help="pods without a colour label get a colour from app.kubernetes.io/version, else their "
                             "pod-template-hash (default: on)")
    parser.add_argument("--topic-prefix", default="", help="prefix for all topics, e.g. 'shinealight/'")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--snapshot-interval", type=positive(), default=0.2, help="min seconds between snapshots")
    parser.add_argument("--min-watch-timeout", type=positive(), default=300.0,
                        help="server-side watch timeout, jittered up to twice this (default: %(default)s s)")
    parser.add_argument("--watch-read-timeout", type=positive(), default=120.0,
                        help="longest silence on a watch before it counts as stalled, and the limit until the "
                             "server's bookmark interval is known (default: %(default)s s)")
    parser.add_argument("--stall-intervals", type=positive(), default=2.0,
                        help="a watch silent for this many of the server's bookmark intervals is stalled "
                             "(default: %(default)s)")
    parser.add_argument("--degraded-after", type=positive(), default=5.0,
                        help="seconds without list/watch before the node status says degraded (default: %(default)s)")
    parser.add_argument("--node-check-interval", type=number(0, strict=False), default=60.0,
                        help="seconds between checks that empty nodes are still in the cluster (needs list on nodes; "
                             "0: never clear a node) (default: %(default)s)")
    parser.add_argument("--homeassistant", action="store_true",
                        help="announce each node to Home Assistant (MQTT discovery: a device with pod counts)")
    parser.add_argument("--homeassistant-prefix", type=validated(validate_discovery_prefix), default=DEFAULT_PREFIX,
                        help="Home Assistant's discovery prefix (default: %(default)s)")
    add_broker_option(parser)
    add_health_options(parser)
    add_logging_options(parser)
    return parser


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> WatcherConfig:
    try:
        nodes = None if args.all_nodes else frozenset({validate_node(args.node)})
        return WatcherConfig(
            broker=broker_from_args(parser, args),
            nodes=nodes,
            namespaces=tuple(args.namespaces) if args.namespaces else None,
            selector=args.selector,
            color_label=args.color_label,
            version_colors=args.version_colors,
            topics=Topics(args.topic_prefix),
            snapshot_interval=args.snapshot_interval,
            min_watch_timeout=args.min_watch_timeout,
            watch_read_timeout=args.watch_read_timeout,
            stall_intervals=args.stall_intervals,
            degraded_after=args.degraded_after,
            node_check_interval=args.node_check_interval,
            homeassistant=args.homeassistant,
            homeassistant_prefix=args.homeassistant_prefix,
        )
    except TopicError as e:
        parser.error(str(e))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(parser, args)
    configure_logging(args)
    try:
        configuration = load_configuration(args.kubeconfig, args.context)
    except KubeError as e:
        log.error("%s", e)
        return 1
    api = PodApi(configuration)
    watcher = Watcher(config, api, nodes=api)
    log.info("watching %s on %s, publishing to %s", config.single_node or "all nodes",
             configuration.host, config.broker.redacted())
    health = serve_health(watcher, args)
    try:
        return run_until_stopped(watcher, watched=[watcher.connection])  # 3: another client took our id
    finally:
        if health is not None:
            health.stop()
