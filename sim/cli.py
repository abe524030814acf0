"""``python -m sim``: the simulated cluster on its own.

    python -m sim serve [--nodes 3] [--kubeconfig sim.kubeconfig] [--port 0]

The demo that wires it to a broker, watchers, agents and the console is ``python -m demo``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from bus.arguments import UsageParser, positive
from bus.shell import add_logging_options, configure_logging, run_until_stopped
from sim.apiserver import ApiServer
from sim.clock import RealClock
from sim.cluster import Cluster, Running
from sim.kubeconfig import write_kubeconfig


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="python -m sim", description="The simulated Kubernetes cluster.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="the simulated cluster's API endpoint, with a kubeconfig")
    serve.add_argument("--nodes", type=positive(int), default=3)
    serve.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    serve.add_argument("--kubeconfig", type=Path, default=Path("sim.kubeconfig"), help="where to write it")
    add_logging_options(serve)
    return parser


@dataclass
class Served:
    """A cluster ticking in real time and its API server, as one service."""

    nodes: int
    port: int
    kubeconfig: Path
    _parts: list[Running | ApiServer] = field(default_factory=list)

    def start(self) -> None:
        cluster = Cluster(nodes=self.nodes, clock=RealClock())
        self._parts.append(cluster.start())
        api = ApiServer(cluster.store, port=self.port).start()
        self._parts.append(api)
        path = write_kubeconfig(self.kubeconfig, api.url)
        print(f"API {api.url}; kubeconfig {path} (python -m watcher --node {cluster.nodes[0]} --kubeconfig {path})",
              flush=True)

    def stop(self) -> None:
        while self._parts:
            self._parts.pop().stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    return run_until_stopped(Served(args.nodes, args.port, args.kubeconfig))

