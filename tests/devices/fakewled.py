"""A small stand-in for a WLED controller: its JSON API over real HTTP on a free port.

Answers ``GET /json/info`` with an LED count and records every ``POST /json/state`` body
with its arrival time. ``fail_with`` makes POSTs answer an error status (counted in
``attempts``), ``close_after_answer`` closes every connection after its answer, and
``drop_next`` hangs up on the next POST without answering (a stale kept-alive connection).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeWled:
    def __init__(self, leds: int = 6) -> None:
        self.leds = leds
        self.posts: list[tuple[float, dict[str, Any]]] = []
        self.attempts = 0
        self.fail_with: int | None = None
        self.close_after_answer = False
        self.drop_next = False  # read the next POST, then hang up without answering (a stale connection)
        self.connections: set[tuple[str, int]] = set()
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def bodies(self) -> list[dict[str, Any]]:
        with self._cond:
            return [body for _, body in self.posts]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = 10) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate([b for _, b in self.posts]), timeout):
                raise AssertionError(f"{what} not posted; last bodies: {[b for _, b in self.posts][-3:]}")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _record(self, body: dict[str, Any]) -> int:
        with self._cond:
            self.attempts += 1
            status = self.fail_with or 200
            if status == 200:
                self.posts.append((time.monotonic(), body))
            self._cond.notify_all()
            return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as WLED's web server

            def do_GET(self) -> None:
                if self.path != "/json/info":
                    self._answer(404, {"error": 3})
                    return
                self._answer(200, {"ver": "0.15.0", "leds": {"count": fake.leds, "rgbw": False}})

            def do_POST(self) -> None:
                fake.connections.add(self.client_address)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if fake.drop_next:
                    fake.drop_next = False
                    self.close_connection = True
                    return
                status = fake._record(body) if self.path == "/json/state" else 404
                self._answer(status, {"success": status == 200})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if fake.close_after_answer:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads bodies
                pass

        return Handler
