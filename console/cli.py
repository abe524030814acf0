"""``python -m console``: the web console for a real cluster (``console/__main__.py`` runs :func:`main`).

The wall listens to the broker; the buttons run plans with helm and kubectl
(``console.executors.cluster.ClusterExecutor``); the traffic panel sends HTTP requests to
the whoami ingress or gateway (``--traffic-url``). The simulated cluster has its own
entry point, ``python -m demo``, which builds the same app around a simulation.

At start the console reads where the cluster is (``console.executors.discovery``: the
releases ``whoami`` / ``whoamiv2`` and the route's weights), so its first plan fits: on a
cluster where the seed's ``helm install whoami ./whoami/`` ran, Scale is a ``helm
upgrade``, not an install helm would refuse. ``--dry-run`` reads nothing and starts from
an empty cluster (it says so), so it needs neither helm nor a cluster.

Exit codes: 2 for bad arguments; 1 when the cluster's state cannot be read (helm or
kubectl missing, cluster unreachable), with one line saying which command failed.
Ctrl-C and SIGTERM stop cleanly (open event streams are ended, the MQTT connection
closed); uvicorn then re-raises the signal, so the exit status is the signal's, as a
supervisor expects.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import get_args

import uvicorn

from bus.arguments import UsageParser, positive, validated
from bus.ordering import DEFAULT_MAX_PODS
from bus.shell import add_broker_option, add_logging_options, broker_from_args, configure_logging
from bus.topics import TopicError, validate_node, validate_prefix
from console.app import create_app
from console.controlling import RunnerControls
from console.executors import ExecutorError
from console.executors.cluster import ClusterExecutor
from console.executors.commands import RouteKind
from console.executors.discovery import describe_found, read_cluster_state
from console.plans import AppState
from console.traffic import DEFAULT_RATE, MAX_RATE, HttpTraffic, check_rate

log = logging.getLogger("console")


def parser() -> argparse.ArgumentParser:
    p = UsageParser(prog="python -m console", description="The Shine a Light console for a real cluster.")
    add_broker_option(p)
    p.add_argument("--topic-prefix", default="", help="topic prefix, e.g. shinealight/ (default: none)")
    p.add_argument("--node", action="append", dest="nodes", default=[], metavar="NODE", type=validated(validate_node),
                   help="a node to show from the start (repeatable); on RabbitMQ, whose wildcard subscriptions get "
                        "no retained messages, quiet nodes appear only if listed (default: nodes appear as they "
                        "publish)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="port to serve on (default: %(default)s)")
    p.add_argument("--chart", default="./helm/whoami/", help="the whoami chart (default: %(default)s)")
    p.add_argument("--namespace", default=None, help="namespace of the demo app (default: kubectl's)")
    p.add_argument(
        "--route-kind",
        choices=get_args(RouteKind),
        default="httproute",
        help="how traffic is split between releases (default: %(default)s)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the helm/kubectl commands instead of running them")
    p.add_argument("--traffic-url", default=None, help="whoami's URL through the ingress/gateway; none: no traffic")
    p.add_argument(
        "--traffic-rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"requests per second, 0 to {MAX_RATE:g} (default: %(default)s)",
    )
    p.add_argument("--max-pods", type=positive(int), default=DEFAULT_MAX_PODS, metavar="N",
                   help="pods held per node on the wall; more are counted as '+N more' (default: %(default)s)")
    add_logging_options(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    broker = broker_from_args(arguments, args)
    try:
        validate_prefix(args.topic_prefix)
        check_rate(args.traffic_rate)
        traffic = HttpTraffic(args.traffic_url) if args.traffic_url else None
    except (TopicError, ValueError) as e:
        arguments.error(str(e))
    configure_logging(args)
    try:
        state = starting_state(args)
    except ExecutorError as e:
        print(f"python -m console: error: cannot read the cluster's state: {e}", file=sys.stderr)
        return 1
    executor = ClusterExecutor(args.chart, namespace=args.namespace, route_kind=args.route_kind,
                               dry_run=args.dry_run)  # fmt: skip
    controls = RunnerControls(executor, state=state)
    app = create_app(broker=broker, topic_prefix=args.topic_prefix, controls=controls,
                     traffic=traffic, traffic_rate=args.traffic_rate, max_pods=int(args.max_pods),
                     nodes=args.nodes)  # fmt: skip
    log.info("console on http://%s:%d (broker %s)", args.host, args.port, broker.redacted())
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False, timeout_graceful_shutdown=3)
    return 0


def starting_state(args: argparse.Namespace) -> AppState:
    """The cluster as it is now (empty for a dry run, which runs nothing); ExecutorError if unreadable."""
    if args.dry_run:
        log.info("dry run: starting from an empty cluster (its state is not read)")
        return AppState()
    state = read_cluster_state(namespace=args.namespace, route_kind=args.route_kind)
    log.info("cluster: %s", describe_found(state))
    return state
