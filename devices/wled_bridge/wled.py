"""The ``wled`` device: frames to a WLED controller over HTTP (its JSON API).

Called from the LED agent's render thread only, which already coalesces: at most one
``show`` per frame period (``--max-writes-per-second``, 20 by default: WLED's web
server on an ESP handles that comfortably, and an animation at 20 Hz still looks
smooth), and only when the frame changed. So a burst of a thousand pod events costs a
handful of POSTs, and the last one is always the current state.

One ``http.client`` connection is kept and reused; WLED may close it after any answer
(``Connection: close``) or while idle, so a request that fails on a *reused* connection
is retried once on a fresh one before it counts as an error. Every request has a
timeout: a WLED that hangs delays only the render thread, never message handling.

Errors: :class:`WledUrlError` for an unusable ``--wled`` (a usage error), and the agent's
:class:`led_agent.backends.DeviceError` for a WLED that cannot be reached or answers
with an error; the render loop counts and logs it and tries again with the next frame
(the frame that failed is still "changed", so it is retried within about a second).
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from devices.wled_bridge.payloads import WledInfoError, led_count, state_body
from led_agent.backends import DeviceError, Frame

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 2.0
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class WledUrlError(ValueError):
    """A ``--wled`` address that cannot be used."""


@dataclass(frozen=True)
class WledUrl:
    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"


def parse_wled_url(text: str) -> WledUrl:
    """``http://wled.local``, ``https://…``, or a bare ``host[:port]`` (http)."""
    parts = urlsplit(text if "://" in text else f"http://{text}")
    if parts.scheme not in ("http", "https"):
        raise WledUrlError(f"WLED address {text!r}: use http://host[:port]")
    if not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise WledUrlError(f"WLED address {text!r}: expected http://host[:port], without a path")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise WledUrlError(f"WLED address {text!r}: bad port") from e
    return WledUrl(host=parts.hostname, port=port, tls=parts.scheme == "https")


class WledClient:
    """JSON requests to one WLED over a kept-alive connection."""

    def __init__(self, url: WledUrl, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.url = url
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """The answer's body; DeviceError if WLED cannot be reached or says no."""
        reused = self._conn is not None
        try:
            return self._exchange(method, path, body)
        except _STALE as e:
            if not reused:
                raise DeviceError(f"WLED at {self.url} closed the connection on {method} {path}") from e
        log.debug("the kept-alive connection to %s was closed; reconnecting", self.url)
        try:
            return self._exchange(method, path, body)
        except _STALE as e:
            raise DeviceError(f"WLED at {self.url} closed the connection on {method} {path}") from e

    def _exchange(self, method: str, path: str, body: bytes | None) -> bytes:
        conn = self._conn or self._open()
        self._conn = conn
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        except _STALE:
            self.close()
            raise
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise DeviceError(f"WLED at {self.url}: {method} {path} failed: {e}") from e
        if not 200 <= answer.status < 300:
            raise DeviceError(f"WLED at {self.url} answered {answer.status} to {method} {path}: {data[:120]!r}")
        return data

    def _open(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.url.tls else http.client.HTTPConnection
        return kind(self.url.host, self.url.port, timeout=self._timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def fetch_led_count(url: WledUrl, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> int:
    """How many LEDs the WLED drives (``/json/info`` → ``leds.count``)."""
    client = WledClient(url, timeout=timeout)
    try:
        return led_count(client.request("GET", "/json/info"))
    except WledInfoError as e:
        raise DeviceError(f"WLED at {url}: {e}") from e
    finally:
        client.close()


class WledDevice:
    """Shows one node's frame on one WLED segment."""

    def __init__(self, client: WledClient, *, node: str, segment: int = 0, brightness: float | None = None) -> None:
        self._client = client
        self.node = node
        self.segment = segment
        self.brightness = brightness  # None: leave WLED's own brightness alone
        self.posts = 0

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        frame = frames.get(self.node)
        if frame is None:
            return
        body = state_body(frame, segment=self.segment, brightness=self.brightness)
        self._client.request("POST", "/json/state", body)
        self.posts += 1

    def close(self) -> None:
        self._client.close()
