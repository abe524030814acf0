"""The process shell every ``python -m`` entry point shares: options, logging, signals.

Every long-running part (watcher, LED agent, WLED bridge, console, simulated cluster,
demo) is a *service* with ``start()`` and ``stop()``. :func:`run_until_stopped` starts
it, waits until SIGINT or SIGTERM (or ``duration``, or until a watched connection gives
up for good — another client took its id: exit status :data:`EXIT_TAKEN_OVER`), and
stops it. A signal only sets an event; stopping happens in the main thread, in order,
never inside a handler, so a service can publish its ``offline`` status and close its
device on the way out.

Options every entry point spells the same way:

- ``--broker URL`` (repeatable, or comma-separated: a failover list; ``bus.urls``:
  ``--broker``, else ``$MQTT_URL``, else the local default), ``--username`` and
  ``--password-file`` (``bus.credentials``: also ``$MQTT_USERNAME``,
  ``$MQTT_PASSWORD_FILE``, ``$MQTT_PASSWORD``); resolved with :func:`broker_from_args`,
  so a bad URL or an unreadable password file is a usage error that shows no password;
- ``--http-port PORT`` (and ``--http-host``): health and metrics (``bus.health``), off
  unless given;
- ``--log-level`` and ``--log-format text|json``. Logs always go to stderr: stdout
  belongs to devices (``json``, ``terminal``) and to captures (``--out -``). The JSON
  format writes one object per line (``ts``, ``level``, ``logger``, ``message``, and
  ``exception`` when there is one) for log collectors. Either way every formatted
  record goes through ``bus.redaction.redact``: no log line shows a password, whoever
  logged it (paho's own logger included).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Protocol

from bus.credentials import CredentialsError, apply_credentials, resolve_credentials
from bus.health import HealthServer, Monitored
from bus.messages import utc_timestamp
from bus.redaction import redact
from bus.urls import DEFAULT_URL, Brokers, BrokerUrlError, resolve_broker_urls

__all__ = [
    "EXIT_TAKEN_OVER",
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


EXIT_TAKEN_OVER = 3


class Service(Protocol):
    """What :func:`run_until_stopped` runs: ``start`` returns once running, ``stop`` cleans up."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Fallible(Protocol):
    """Something that can give up for good, saying why (``bus.connection.BusConnection``)."""

    @property
    def failure(self) -> str | None: ...


# -- options ------------------------------------------------------------------------------


def add_broker_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", metavar="URL", action="append",
                        help="mqtt://host[:port], also mqtts, ws, wss; repeat it or separate URLs with commas for a "
                             f"failover list tried in order (default: $MQTT_URL, else {DEFAULT_URL})")
    parser.add_argument("--username", metavar="NAME",
                        help="broker user name for URLs that name none (default: $MQTT_USERNAME)")
    parser.add_argument("--password-file", metavar="PATH",
                        help="read the broker password from PATH (default: $MQTT_PASSWORD_FILE, else "
                             "$MQTT_PASSWORD); unlike a password in --broker, it does not show in ps")


def broker_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace,
                     env: Mapping[str, str] | None = None) -> Brokers:
    """The failover list of ``--broker`` / ``$MQTT_URL`` with its credentials; bad input is a usage error."""
    env = os.environ if env is None else env
    try:
        brokers = resolve_broker_urls(args.broker, env)
        credentials = resolve_credentials(username=args.username, password_file=args.password_file, env=env,
                                          read=_read_text)
        resolved = apply_credentials(brokers, credentials)
    except (BrokerUrlError, CredentialsError) as e:
        parser.error(str(e))
    if args.broker and any(url.password for url in brokers):
        print(f"{parser.prog}: warning: a password in --broker shows in ps; use --password-file or "
              "$MQTT_PASSWORD_FILE instead", file=sys.stderr)
    return resolved


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


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
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Another formatter's output, without secrets (``bus.redaction``).

    The message and the traceback are redacted before the inner formatter escapes them
    (JSON), and its output once more after; other handlers see the record unchanged.
    """

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        clean = logging.makeLogRecord(record.__dict__)
        clean.msg, clean.args = redact(record.getMessage()), None
        if record.exc_info:
            clean.exc_text = redact(record.exc_text or self._inner.formatException(record.exc_info))
        return redact(self._inner.format(clean))


def configure_logging(args: argparse.Namespace) -> None:
    """Log to stderr at ``--log-level`` in ``--log-format`` (replacing earlier handlers), redacted."""
    handler = logging.StreamHandler(sys.stderr)
    inner = JsonFormatter() if args.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(RedactingFormatter(inner))
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


def wait_stopped(stop: threading.Event, *, duration: float | None = None,
                 watched: Sequence[Fallible] = ()) -> None:
    """Block until ``stop`` is set, ``duration`` seconds have passed or a watched part gave up (then set it)."""
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.wait(0.2):
        if deadline is not None and time.monotonic() >= deadline:
            stop.set()
        if any(part.failure is not None for part in watched):
            stop.set()


def run_until_stopped(service: Service, *, stop: threading.Event | None = None,
                      duration: float | None = None, watched: Sequence[Fallible] = ()) -> int:
    """Start ``service``, wait for a signal (or ``duration``), stop it; exit code 0.

    ``watched``: connections whose giving up (a takeover, see ``bus.connection``) stops the
    service too; the exit code is then :data:`EXIT_TAKEN_OVER` (the reason is already logged).
    """
    stop = stop_on_signals(stop)
    service.start()
    try:
        wait_stopped(stop, duration=duration, watched=watched)
    finally:
        service.stop()
    return EXIT_TAKEN_OVER if any(part.failure is not None for part in watched) else 0
