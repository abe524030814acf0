"""Secrets never reach a log line: the registry, and the formatter every entry point installs."""

from __future__ import annotations

import argparse
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus import redaction
from bus.shell import configure_logging


@given(st.text(min_size=redaction.MIN_LENGTH), st.text(), st.text())
def test_a_remembered_secret_never_survives(secret: str, before: str, after: str) -> None:
    redaction.remember(secret)
    assert secret not in redaction.redact(before + secret + after)


def test_short_secrets_are_not_guarded_in_free_text() -> None:
    redaction.remember("abc")
    assert redaction.redact("abcabc") == "abcabc"


def test_urls_lose_their_password_even_unremembered() -> None:
    text = "unrecognized arguments: mqtt://user:p/a#s?s@w@broker:1883 wss://v:x@h/mqtt"
    assert redaction.redact(text) == "unrecognized arguments: mqtt://user:***@broker:1883 wss://v:***@h/mqtt"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_log_lines_and_tracebacks_are_redacted(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    secret = 'pa"ss\\wörd/#?'
    redaction.remember(secret)
    configure_logging(argparse.Namespace(log_level="INFO", log_format=log_format))
    try:
        logger = logging.getLogger("test.redaction")
        logger.warning("connecting with %s", secret)
        try:
            raise ValueError(f"bad password {secret!r}")
        except ValueError:
            logger.exception("failed")
        logging.getLogger("bus.paho").warning("Sending CONNECT %s", secret.encode())
    finally:
        logging.basicConfig(handlers=[logging.NullHandler()], force=True)
    err = capsys.readouterr().err
    assert "connecting with ***" in err and "ValueError" in err
    for form in (secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], "ss\\w", "wörd", "w\\u00f6rd"):
        assert form not in err, form
    if log_format == "json":
        assert all(json.loads(line)["level"] for line in err.splitlines() if line.startswith("{"))
