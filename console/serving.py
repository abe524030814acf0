"""Serve an ASGI app with uvicorn in a background thread: for the demo and the tests.

``serve_in_thread(app, host, port)`` binds the socket itself (port 0 picks a free one,
so ``.url`` is right before the first request), runs ``uvicorn.Server`` on its own
event loop in a daemon thread, and returns once the server accepts connections (its
lifespan startup, which starts the console, has run by then).

``stop()`` first ends the console's open event streams — an SSE response never ends on
its own, and uvicorn waits for open responses before it runs the lifespan shutdown —
then asks the server to exit and joins the thread.

uvicorn's own logging setup is not applied (``log_config=None``): the process that
embeds the console configures logging once, for every part.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

START_TIMEOUT_SECONDS = 10.0
GRACEFUL_SHUTDOWN_SECONDS = 3


class ServeError(RuntimeError):
    """The server did not come up."""


@dataclass
class ServerHandle:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    app: Any

    def stop(self, timeout: float = 10.0) -> None:
        console = getattr(getattr(self.app, "state", None), "console", None)
        if console is not None:
            console.hub.close_all()
        self.server.should_exit = True
        self.thread.join(timeout)


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
    """Serve ``app`` on ``host:port`` (0: a free port) until ``.stop()``; raises ServeError."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), name="console-http",
                              daemon=True)  # fmt: skip
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ServeError(f"the console did not start on {host}:{port}")
        time.sleep(0.02)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return ServerHandle(url=f"http://{shown}:{bound_port}", server=server, thread=thread, app=app)
