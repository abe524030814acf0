"""The process shell every ``python -m`` entry point shares: options, logging, signals.

Every long-running part (watcher, LED agent, WLED bridge, console, simulated cluster,
demo) is a *service* with ``start()`` and ``stop()``. :func:`run_until_stopped` starts
it, waits until SIGINT or SIGTERM (or ``duration``), and stops it. A signal only sets
an event; stopping happens in the main thread, in order, never inside a handler, so a
service can publish its ``offline`` status and close its device on the way out.

Options every entry point spells the same way:

- ``--broker URL`` (``bus.urls``: ``--broker``, else ``$MQTT_URL``, else the local
  default; resolved with :func:`broker_from_args`, so a bad URL is a usage error);
- ``--http-port PORT`` (and ``--http-host``): health and metrics (``bus.health``), off
  unless given;
- ``--log-level`` and ``--log-format text|json``. Logs always go to stderr: stdout
  belongs to devices (``json``, ``terminal``) and to captures (``--out -``). The JSON
  format writes one object per line (``ts``, ``level``, ``logger``, ``message``, and
  ``exception`` when there is one) for log collectors.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Protocol

from bus.health import HealthServer, Monitored
from bus.messages import utc_timestamp
from bus.urls import DEFAULT_URL, BrokerUrl, BrokerUrlError, resolve_broker_url

__all__ = [
    "LOG_LEVELS",
    "Service",
    "add_broker_option",
    "add_health_options",
    "add_logging_options",
    "broker_from_args",
    "configure_logging",
    "run_until_stopped",
    "serve_health",
    "stop_on_signals",
]

log = logging.getLogger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Service(Protocol):
    """What :func:`run_until_stopped` runs: ``start`` returns once running, ``stop`` cleans up."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


# -- options ------------------------------------------------------------------------------


def add_broker_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", metavar="URL",
                        help=f"mqtt://[user:pass@]host[:port] (default: $MQTT_URL or {DEFAULT_URL})")


def broker_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> BrokerUrl:
    """The broker of ``--broker`` / ``$MQTT_URL``; a bad URL is a one-line usage error."""
    try:
        return resolve_broker_url(args.broker)
    except BrokerUrlError as e:
        parser.error(str(e))


def add_health_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http-port", type=_port, metavar="PORT",
                        help="serve /healthz, /readyz and /metrics on this port (default: off)")
    parser.add_argument("--http-host", default="0.0.0.0", metavar="HOST",
                        help="address for --http-port (default: %(default)s)")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (0-65535): {text!r}")
    return int(text)


def serve_health(part: Monitored, args: argparse.Namespace) -> HealthServer | None:
    """Start the health server of ``--http-port`` (None without it); the caller stops it."""
    if args.http_port is None:
        return None
    return HealthServer(part, port=args.http_port, host=args.http_host).start()


def add_logging_options(parser: argparse.ArgumentParser, *, level: str = "INFO") -> None:
    parser.add_argument("--log-level", default=level, choices=LOG_LEVELS, help="(default: %(default)s)")
    parser.add_argument("--log-format", default="text", choices=("text", "json"),
                        help="text lines or one JSON object per line (default: %(default)s)")


# -- logging ------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message`` [, ``exception``]."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": utc_timestamp(record.created), "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(args: argparse.Namespace) -> None:
    """Log to stderr at ``--log-level`` in ``--log-format`` (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if args.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)


# -- running ------------------------------------------------------------------------------


def stop_on_signals(stop: threading.Event | None = None) -> threading.Event:
    """An event that SIGINT and SIGTERM set (call from the main thread)."""
    stop = stop or threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def wait_stopped(stop: threading.Event, *, duration: float | None = None) -> None:
    """Block until ``stop`` is set, or ``duration`` seconds have passed (then set it)."""
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.wait(0.2):
        if deadline is not None and time.monotonic() >= deadline:
            stop.set()


def run_until_stopped(service: Service, *, stop: threading.Event | None = None,
                      duration: float | None = None) -> int:
    """Start ``service``, wait for a signal (or ``duration``), stop it; exit code 0."""
    stop = stop_on_signals(stop)
    service.start()
    try:
        wait_stopped(stop, duration=duration)
    finally:
        service.stop()
    return 0
