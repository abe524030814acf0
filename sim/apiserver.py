"""The simulated cluster's Kubernetes API endpoint: pods list, get and watch over real HTTP.

A stdlib ``ThreadingHTTPServer`` in a thread, speaking HTTP/1.1 with keep-alive, JSON
bodies with Content-Length, and watch streams in chunked transfer encoding (one JSON
event per line, one line per chunk) — what the official client and kubectl read from a
real API server. Request parsing lives in ``sim.routes``, the event sequence of a watch
in ``sim.watching``, the data in ``sim.podstore``; this module only moves bytes.

Fault hooks for resilience tests: ``faults`` (fail or hang the next requests),
``drop_watches()`` (cut open streams without a proper end), ``stall_watches()`` /
``resume_watches()`` (open streams go silent: a half-open connection), and ``requests``
(a log of every request, to count lists and watches and check their parameters).

``stop()`` ends open watches cleanly, then closes every connection, so no thread of
the server outlives it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sim.discovery import DOCUMENTS
from sim.faults import Faults, RequestLog
from sim.pods import JsonDict
from sim.podstore import NotFound, PodStore
from sim.routes import STATUS_REASONS, ApiError, Route, RouteKind, route
from sim.tables import pod_table, table_events, wants_table
from sim.watching import FLUSH, SessionState, WatchSession, watch_events, wire_pod

log = logging.getLogger(__name__)

_STOP_GRACE_SECONDS = 2.0


WRITE_BATCH_BYTES = 64 * 1024


class _HttpServer(ThreadingHTTPServer):
    """The listening socket plus what handlers share; tracks connections and watch sessions."""

    daemon_threads = True  # never block interpreter exit; stop() still joins them
    block_on_close = True

    def __init__(self, api: ApiServer, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.stopping = threading.Event()
        self._lock = threading.Condition()
        self._connections: set[socket.socket] = set()
        self.sessions: set[WatchSession] = set()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def open_session(self, connection: socket.socket) -> WatchSession:
        session = WatchSession(connection)
        if self.stopping.is_set():
            session.end()  # arrived while stop() was ending the others
        with self._lock:
            self.sessions.add(session)
            self._lock.notify_all()
        return session

    def close_session(self, session: WatchSession) -> None:
        with self._lock:
            self.sessions.discard(session)
            self._lock.notify_all()

    def current_sessions(self) -> list[WatchSession]:
        with self._lock:
            return list(self.sessions)

    def wait_sessions(self, count: int, timeout: float, *, streaming_only: bool = False) -> bool:
        """Wait until exactly ``count`` watch sessions exist (only those streaming, if asked)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._count(streaming_only) == count, timeout)

    def count_sessions(self, *, streaming_only: bool) -> int:
        with self._lock:
            return self._count(streaming_only)

    def notify(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def _count(self, streaming_only: bool) -> int:
        return sum(1 for s in self.sessions if not streaming_only or s.state == SessionState.OPEN)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A handler crashed: log it (with traceback) instead of printing to stderr."""
        log.exception("simulated API server: error serving %s", client_address)

    def cut_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the peer closed it first: nothing left to cut
                connection.shutdown(socket.SHUT_RDWR)


class ApiServer:
    """``ApiServer(store).start()``; ``.url`` is the base URL for clients and kubeconfigs."""

    def __init__(
        self,
        store: PodStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 60.0,
    ) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval
        self.faults = Faults()
        self.requests = RequestLog()
        self._address = (host, port)
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ApiServer:
        if self._httpd is not None:
            raise RuntimeError("ApiServer already started")
        self._httpd = _HttpServer(self, self._address)
        # A short poll interval makes stop() quick: shutdown() waits for the loop to notice.
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.02)
        self._thread = threading.Thread(target=serve, name="sim-apiserver", daemon=True)
        self._thread.start()
        log.info("simulated API server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """End open watches cleanly, stop accepting, close every connection, join the threads."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        self._each_session(httpd, WatchSession.end)
        httpd.wait_sessions(0, _STOP_GRACE_SECONDS)
        httpd.shutdown()
        httpd.cut_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._running().server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def open_watches(self) -> int:
        """Watch streams open and not stalled. A client that left is counted until the server
        notices, at its next write (an event or bookmark), as a real API server notices."""
        return self._running().count_sessions(streaming_only=True)

    def wait_for_watches(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until exactly ``count`` streams are open and not stalled (e.g. a client re-watched)."""
        return self._running().wait_sessions(count, timeout, streaming_only=True)

    def drop_watches(self) -> int:
        """Cut every open watch stream abruptly (no end chunk); returns how many."""
        return self._each_session(self._running(), WatchSession.drop)

    def stall_watches(self) -> int:
        """Open streams keep their connection but send nothing, bookmarks included, until resumed."""
        return self._each_session(self._running(), WatchSession.stall)

    def resume_watches(self) -> int:
        return self._each_session(self._running(), WatchSession.resume)

    def _running(self) -> _HttpServer:
        if self._httpd is None:
            raise RuntimeError("ApiServer is not running")
        return self._httpd

    def _each_session(self, httpd: _HttpServer, action: Callable[[WatchSession], None]) -> int:
        sessions = httpd.current_sessions()
        for session in sessions:
            action(session)
        self.store.wake()  # sessions waiting for store changes re-check their state
        httpd.notify()  # and wait_for_watches() re-counts
        return len(sessions)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"
    server_version = "shinealight-sim"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        try:
            self._serve()
        except OSError as e:  # the client went away, or stop()/drop() cut the socket
            log.debug("connection closed while serving %s: %s", self.path, e)
            self.close_connection = True

    def _serve(self) -> None:
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            request = route(self.command, url.path, params)
        except ApiError as e:
            self._record(url.path, params, "invalid")
            self._send_error(e)
            return
        self._record(url.path, params, str(request.kind))
        try:
            self._apply_fault(request)
            self._dispatch(request)
        except ApiError as e:
            self._send_error(e)

    def do_POST(self) -> None:
        self._refuse()

    def do_PUT(self) -> None:
        self._refuse()

    def do_PATCH(self) -> None:
        self._refuse()

    def do_DELETE(self) -> None:
        self._refuse()

    def _refuse(self) -> None:
        """Routing answers 405 with a Status body; the unread request body rules out keep-alive."""
        self.close_connection = True
        self.do_GET()

    def _record(self, path: str, params: dict[str, list[str]], kind: str) -> None:
        self.server.api.requests.append(self.command, path, {k: v[0] for k, v in params.items()}, kind)

    def _apply_fault(self, request: Route) -> None:
        fault = self.server.api.faults.take(str(request.kind))
        if fault is None:
            return
        if fault.hang_seconds and self.server.stopping.wait(fault.hang_seconds):
            raise ConnectionAbortedError("server stopping while a request hung")
        if fault.status is not None:
            reason = STATUS_REASONS.get(fault.status, "InternalError")
            raise ApiError(fault.status, reason, f"injected fault: {fault.status}", retry_after=fault.retry_after)

    def _dispatch(self, request: Route) -> None:
        store = self.server.api.store
        match request.kind:
            case RouteKind.DISCOVERY:
                self._send_json(200, DOCUMENTS[request.path])
            case RouteKind.GET:
                self._send_pods([self._get(store, request)], single=True)
            case RouteKind.LIST:
                items, version = store.select(request.query.selector)
                self._send_pods(items, version=version)
            case RouteKind.WATCH:
                self._stream(request)

    def _get(self, store: PodStore, request: Route) -> JsonDict:
        namespace = request.query.selector.namespace or "default"
        try:
            return store.get(namespace, request.name or "")
        except NotFound as e:
            raise ApiError(404, "NotFound", str(e)) from e

    def _send_pods(self, items: list[JsonDict], *, version: int | None = None, single: bool = False) -> None:
        if wants_table(self.headers.get("Accept", "")):
            self._send_json(200, pod_table(items, resource_version=version))
        elif single:
            self._send_json(200, wire_pod(items[0]))
        else:
            metadata = {"resourceVersion": str(version)}
            self._send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": metadata, "items": items})

    def _send_error(self, error: ApiError) -> None:
        headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
        self._send_json(error.code, error.status(), headers)

    def _send_json(self, code: int, body: JsonDict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, request: Route) -> None:
        session = self.server.open_session(self.connection)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            api = self.server.api
            events = watch_events(api.store, request.query, session, bookmark_interval=api.bookmark_interval)
            if wants_table(self.headers.get("Accept", "")):
                events = table_events(events)
            self._write_events(events)
            if session.state == SessionState.DROPPED:
                self.close_connection = True
            else:
                self._write_chunks([b""])  # the zero-length chunk: a clean end of the stream
        finally:
            self.server.close_session(session)

    def _write_events(self, events: Iterable[JsonDict]) -> None:
        """One chunk per event (as the real server frames them), written in batches: whatever is
        ready goes out in one write when the stream is about to wait (FLUSH) or ends."""
        pending = bytearray()
        for event in events:
            if event is not FLUSH:
                line = json.dumps(event).encode() + b"\n"
                pending += b"%x\r\n%s\r\n" % (len(line), line)
            if event is FLUSH or len(pending) >= WRITE_BATCH_BYTES:
                self.wfile.write(pending)
                pending.clear()
        self.wfile.write(pending)

    def _write_chunks(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
