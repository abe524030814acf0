"""The simulated API server in a process of its own, as kube-apiserver is.

The benchmark drives it over a pipe: ``("recolor_backlog", count, offset, nodes,
pods_per_node)`` stalls the watches, writes ``count`` recolours into the store and
releases the watches, so the pipeline drains a backlog at its own pace; ``("recolor",
node, index, color)`` changes one pod; ``("call", target, method, args, kwargs)`` calls
a method of the server (``api``: drop/stall/resume watches), of its ``faults`` or of its
``requests`` log and sends back the result; ``("stop",)`` ends it. Keeping the server
out of the measuring process means the agent under test does not share a GIL with it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from typing import Any

from bench.workload import color_of, show_pod
from sim.apiserver import ApiServer
from sim.podstore import PodStore


def _recolor(store: PodStore, node: str, index: int, color: str) -> None:
    def paint(pod: dict[str, Any]) -> None:
        pod["metadata"]["labels"]["blinktColor"] = color

    store.update("default", f"{node}-p{index}", paint)


def _serve(conn: multiprocessing.connection.Connection, nodes: list[str], pods_per_node: int,
           bookmark_interval: float) -> None:
    store = PodStore(history_size=50_000)
    for node in nodes:
        for i in range(pods_per_node):
            store.create(show_pod(f"{node}-p{i}", node, "ffff00"))
    api = ApiServer(store, bookmark_interval=bookmark_interval).start()
    targets: dict[str, object] = {"api": api, "faults": api.faults, "requests": api.requests}
    conn.send(api.url)
    while True:
        command = conn.recv()
        if command[0] == "stop":
            break
        if command[0] == "recolor":
            _recolor(store, *command[1:])
            conn.send("ok")
        elif command[0] == "call":
            _, target, method, args, kwargs = command
            conn.send(getattr(targets[target], method)(*args, **kwargs))
        elif command[0] == "recolor_backlog":
            _, count, offset = command
            api.stall_watches()
            for k in range(count):
                _recolor(store, nodes[k % len(nodes)], (k // len(nodes)) % pods_per_node, color_of(offset + k))
            conn.send("ready")
            conn.recv()
            api.resume_watches()
            conn.send("released")
    api.stop()


class ApiProcess:
    def __init__(self, nodes: list[str], pods_per_node: int, *, bookmark_interval: float = 30.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, nodes, pods_per_node, bookmark_interval), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()

    def recolor(self, node: str, index: int, color: str) -> None:
        self._conn.send(("recolor", node, index, color))
        self._conn.recv()

    def call(self, target: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``target.method(*args, **kwargs)`` in the server's process (``api``, ``faults`` or ``requests``)."""
        self._conn.send(("call", target, method, args, kwargs))
        return self._conn.recv()

    def prepare_backlog(self, count: int, offset: int) -> None:
        self._conn.send(("recolor_backlog", count, offset))
        assert self._conn.recv() == "ready"

    def release_backlog(self) -> None:
        self._conn.send(("go",))
        assert self._conn.recv() == "released"

    def stop(self) -> None:
        self._conn.send(("stop",))
        self._process.join(10)
