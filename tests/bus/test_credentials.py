"""Credentials from the URL, the environment and files; which source wins; errors that show no password."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus import redaction
from bus.credentials import Credentials, CredentialsError, apply_credentials, read_password_file, resolve_credentials
from bus.urls import parse_brokers

NASTY = "n4sty/#?@:,pass word\\\"'"


def read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def resolve(env: dict[str, str], *, username: str | None = None, password_file: str | None = None) -> Credentials:
    return resolve_credentials(username=username, password_file=password_file, env=env, read=read)


@pytest.mark.parametrize(("content", "password"), [
    (NASTY, NASTY), (f"{NASTY}\n", NASTY), (f"{NASTY}\r\n", NASTY), (" spaced \n", " spaced "), ("two\n\n", "two\n"),
])
def test_a_password_file_loses_one_line_break_and_nothing_else(tmp_path: Path, content: str, password: str) -> None:
    path = tmp_path / "password"
    path.write_text(content, encoding="utf-8", newline="")
    assert read_password_file(str(path), read) == password


def test_an_empty_or_missing_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(CredentialsError, match=f"the password file {empty} is empty"):
        read_password_file(str(empty), read)
    with pytest.raises(CredentialsError, match=r"cannot read the password file .*nope: No such file"):
        read_password_file(str(tmp_path / "nope"), read)
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" + NASTY.encode())
    with pytest.raises(CredentialsError) as error:
        read_password_file(str(binary), read)
    assert "n4sty" not in str(error.value)


def test_sources_in_order(tmp_path: Path) -> None:
    flag_file, env_file = tmp_path / "flag", tmp_path / "env"
    flag_file.write_text("from-flag-file")
    env_file.write_text("from-env-file")
    env = {"MQTT_USERNAME": "env-user", "MQTT_PASSWORD_FILE": str(env_file), "MQTT_PASSWORD": "from-env"}
    assert resolve(env, username="flag-user", password_file=str(flag_file)) == Credentials(
        "flag-user", "from-flag-file", "--password-file")
    assert resolve(env) == Credentials("env-user", "from-env-file", "$MQTT_PASSWORD_FILE")
    from_env = resolve({"MQTT_USERNAME": "u", "MQTT_PASSWORD": "from-env"})
    assert from_env == Credentials("u", "from-env", "$MQTT_PASSWORD")
    assert resolve({}) == Credentials()


def test_the_url_wins_and_the_rest_fills_in() -> None:
    brokers = parse_brokers(["mqtt://url-user:url-pass@a,mqtt://url-user@b,mqtt://c"])
    shared = Credentials("shared-user", "shared-pass")
    assert [(u.username, u.password) for u in apply_credentials(brokers, shared)] == [
        ("url-user", "url-pass"), ("url-user", "shared-pass"), ("shared-user", "shared-pass")]
    assert [(u.username, u.password) for u in apply_credentials(brokers, Credentials())] == [
        ("url-user", "url-pass"), ("url-user", None), (None, None)]


def test_a_password_without_a_user_is_an_error_that_does_not_show_it() -> None:
    with pytest.raises(CredentialsError, match=r"\(\$MQTT_PASSWORD\) but no user name for mqtt://h:1883") as error:
        apply_credentials(parse_brokers(["mqtt://h"]), resolve({"MQTT_PASSWORD": NASTY}))
    assert NASTY not in str(error.value)


def test_every_password_found_is_redacted_from_then_on(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("file-secret-1\n")
    resolve({"MQTT_PASSWORD_FILE": str(path)})
    resolve({"MQTT_PASSWORD": "env-secret-2"})
    parse_brokers(["mqtt://u:url%2Fsecret-3@h"])
    text = "file-secret-1 env-secret-2 url/secret-3 url%2Fsecret-3 mqtt://x:unknown-4@h"
    assert redaction.redact(text) == "*** *** *** *** mqtt://x:***@h"
    assert "secret" not in repr(resolve({"MQTT_PASSWORD": "env-secret-2"}))
