"""``python -m bus``: record and replay bus traffic.

    python -m bus record --out capture.jsonl [--topic 'nodes/#' ...] [--duration S] [--count N]
    python -m bus replay capture.jsonl [--speed 10 | --as-fast-as-possible] [--loop] [--topic-prefix P]

Exit codes: 0 done (Ctrl-C is a normal way to end both), 1 a runtime failure (broker
unreachable, capture not writable mid-way, publishes the broker did not confirm),
2 bad usage or bad input — a malformed capture is reported with its line number and
publishes nothing. Errors are one line on stderr; logs go to stderr, so ``--out -``
writes a clean capture to stdout. SIGTERM stops like Ctrl-C.

The entry point is ``python -m bus`` (``bus/__main__.py``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from typing import TextIO

from bus.arguments import UsageParser, number, validated
from bus.captures import DEFAULT_INTERVAL, CaptureError, CaptureWriter, load_capture
from bus.connection import BrokerUnavailable
from bus.messages import utc_timestamp
from bus.recording import Recorder, validate_topic_filter
from bus.redaction import redact
from bus.replaying import ReplayOptions, replay_to_broker
from bus.shell import add_broker_option, add_logging_options, broker_from_args, configure_logging, stop_on_signals
from bus.topics import validate_prefix
from bus.urls import Brokers

log = logging.getLogger("bus")


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="python -m bus", description="Record and replay Shine a Light bus traffic (MQTT).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{record,replay}")
    _add_record(commands.add_parser("record", help="capture what flows into a JSON lines file",
                                    description="Capture bus messages into a JSON lines file (one flushed line each)."))
    _add_replay(commands.add_parser("replay", help="publish a capture again with its timing",
                                    description="Publish a capture (JSON lines or `mosquitto_sub -v` text) again."))
    return parser


def _add_common(sub: argparse.ArgumentParser) -> None:
    add_broker_option(sub)
    add_logging_options(sub)


def _add_record(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--out", required=True, help="capture file to write ('-' for stdout)")
    sub.add_argument("--force", action="store_true", help="overwrite an existing capture file")
    sub.add_argument("--topic", action="append", type=validated(validate_topic_filter), metavar="FILTER",
                     help="topic filter to record (repeatable; default: '<prefix>nodes/#')")
    sub.add_argument("--topic-prefix", default="", type=validated(validate_prefix), metavar="P",
                     help="the bus's topic prefix, for the default filter")
    sub.add_argument("--duration", type=number(0, strict=True), metavar="S", help="stop after S seconds")
    sub.add_argument("--count", type=number(1, strict=False, kind=int), metavar="N", help="stop after N messages")
    sub.add_argument("--mqtt311", action="store_true",
                     help="use MQTT 3.1.1 (brokers without MQTT 5); live messages then lose their retain flag")
    _add_common(sub)


def _add_replay(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("file", help="capture file: JSON lines (python -m bus record) or `mosquitto_sub -v` text")
    pace = sub.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=number(0, strict=False), default=1.0, metavar="X",
                      help="time scale: 10 = ten times faster, 0 = no waiting (default: %(default)s)")
    pace.add_argument("--as-fast-as-possible", dest="speed", action="store_const", const=0.0,
                      help="publish without waiting (same as --speed 0)")
    sub.add_argument("--loop", action="store_true", help="replay forever (each pass with a fresh epoch)")
    sub.add_argument("--passes", type=number(1, strict=False, kind=int), metavar="N",
                     help="with --loop: stop after N passes")
    sub.add_argument("--loop-gap", type=number(0, strict=False), default=1.0, metavar="S",
                     help="seconds between passes (default: %(default)s)")
    sub.add_argument("--interval", type=number(0, strict=False), default=DEFAULT_INTERVAL, metavar="S",
                     help="seconds between lines of a mosquitto_sub text capture (default: %(default)s)")
    sub.add_argument("--topic-prefix", default="", type=validated(validate_prefix), metavar="P",
                     help="prepend this prefix (ending in '/') to every topic")
    sub.add_argument("--no-retain", dest="retain", action="store_false", help="publish nothing retained")
    sub.add_argument("--connect-timeout", type=number(0, strict=True), default=30.0, metavar="S",
                     help="give up if the broker is not reachable within S seconds (default: %(default)s)")
    _add_common(sub)


# -- record ---------------------------------------------------------------------------


def _open_output(path: str, *, force: bool) -> TextIO:
    if path == "-":
        return sys.stdout
    return open(path, "w" if force else "x", encoding="utf-8", newline="\n")


def run_record(args: argparse.Namespace, brokers: Brokers, stop: threading.Event) -> int:
    topics = args.topic or [f"{args.topic_prefix}nodes/#"]
    try:
        stream = _open_output(args.out, force=args.force)
    except FileExistsError:
        return _fail(args, 2, f"{args.out} exists; use --force to overwrite it")
    except OSError as e:
        return _fail(args, 2, f"cannot write {args.out}: {e.strerror or e}")
    try:
        writer = CaptureWriter(stream, started=utc_timestamp(time.time()), topics=topics)
        recorder = Recorder(brokers, topics=topics, writer=writer, limit=args.count, mqtt311=args.mqtt311)
        log.info("recording %s from %s to %s", ", ".join(topics), brokers.redacted(), args.out)
        recorder.start()  # a broker that is down: paho keeps retrying and logs each attempt
        _wait_recording(recorder, args.duration, stop)
    finally:
        if stream is not sys.stdout:
            stream.close()
    if recorder.error is not None:
        return _fail(args, 1, f"writing {args.out} failed after {recorder.count} messages: {recorder.error}")
    if recorder.failure is not None:
        return _fail(args, 1, f"recording stopped after {recorder.count} messages: {recorder.failure}")
    log.info("recorded %d messages to %s", recorder.count, args.out)
    return 0


def _wait_recording(recorder: Recorder, duration: float | None, stop: threading.Event) -> None:
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while not recorder.finished.wait(0.2) and not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        recorder.stop()


# -- replay ---------------------------------------------------------------------------


def run_replay(args: argparse.Namespace, brokers: Brokers, stop: threading.Event) -> int:
    try:
        capture = load_capture(args.file, interval=args.interval)
    except CaptureError as e:
        return _fail(args, 2, f"{args.file}: {e}; nothing published")
    except OSError as e:
        return _fail(args, 2, f"cannot read {args.file}: {e.strerror or e}")
    if not capture.messages:
        log.warning("%s holds no messages; nothing to replay", args.file)
        return 0
    options = ReplayOptions(speed=args.speed, loop=args.loop or args.passes is not None, passes=args.passes,
                            loop_gap=args.loop_gap, topic_prefix=args.topic_prefix, retain=args.retain)
    try:
        stats = replay_to_broker(capture, brokers, options=options, stop=stop, connect_timeout=args.connect_timeout)
    except BrokerUnavailable as e:
        return _fail(args, 1, str(e))
    log.info("published %d messages in %d pass(es)%s", stats.published, stats.passes,
             " (stopped)" if stats.stopped else "")
    if stats.unconfirmed:
        return _fail(args, 1, f"{stats.unconfirmed} messages were not confirmed by the broker")
    return 0


# -- main -----------------------------------------------------------------------------


def _fail(args: argparse.Namespace, code: int, message: str) -> int:
    print(redact(f"python -m bus {args.command}: error: {message}"), file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    brokers = broker_from_args(parser, args)
    configure_logging(args)
    stop = stop_on_signals()  # Ctrl-C and SIGTERM end both commands normally
    return run_record(args, brokers, stop) if args.command == "record" else run_replay(args, brokers, stop)
