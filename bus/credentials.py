"""Broker credentials: from the URL, the environment or a file.

Per field, the first source that is set wins:

- user name: the URL's (``mqtt://watcher@broker``), ``--username``, ``$MQTT_USERNAME``;
- password: the URL's, the file named by ``--password-file``, the file named by
  ``$MQTT_PASSWORD_FILE``, ``$MQTT_PASSWORD``.

The URL is the most specific source, so it wins; the others apply to every broker of
the failover list whose URL does not say. A password in ``--broker`` is visible to
anyone who can run ``ps`` on the machine; a file (a mounted Kubernetes Secret:
``MQTT_PASSWORD_FILE=/etc/shinealight/mqtt/password``) or the environment are not,
which is why the chart uses them.

A password file is read as UTF-8; one trailing line break (``\\n`` or ``\\r\\n``) is
dropped, so ``echo secret > file`` and a Secret key both work, and everything else,
spaces included, is the password. An empty or unreadable file is a
:class:`CredentialsError` naming the file, never its content. A password without a
user name is an error too: MQTT 3.1.1 cannot send one.

Every password found is handed to ``bus.redaction`` at once, so no log line can show
it. Pure: the environment and the file reader are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from bus import redaction
from bus.urls import Brokers

ReadText = Callable[[str], str]


class CredentialsError(ValueError):
    """Credentials that cannot be used (the message never holds the password)."""


@dataclass(frozen=True)
class Credentials:
    """A user name and password for every broker whose URL names none; ``repr`` hides the password."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_source: str | None = None  # where the password came from, for messages


def read_password_file(path: str, read: ReadText) -> str:
    """The password in ``path``, without one trailing line break."""
    try:
        text = read(path)
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
        raise CredentialsError(f"cannot read the password file {path}: {reason}") from e
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CredentialsError(f"the password file {path} is empty")
    redaction.remember(password)
    return password


def resolve_credentials(*, username: str | None, password_file: str | None, env: Mapping[str, str],
                        read: ReadText) -> Credentials:
    """The shared credentials of the command line and the environment (URLs may override them)."""
    name = username or env.get("MQTT_USERNAME") or None
    if password_file:
        password, source = read_password_file(password_file, read), "--password-file"
    elif env.get("MQTT_PASSWORD_FILE"):
        password, source = read_password_file(env["MQTT_PASSWORD_FILE"], read), "$MQTT_PASSWORD_FILE"
    elif env.get("MQTT_PASSWORD"):
        password, source = env["MQTT_PASSWORD"], "$MQTT_PASSWORD"
        redaction.remember(password)
    else:
        return Credentials(name)
    return Credentials(name, password, source)


def apply_credentials(brokers: Brokers, credentials: Credentials) -> Brokers:
    """Every broker with the URL's user and password, else the shared ones; CredentialsError if unusable."""
    urls = []
    for url in brokers:
        username = url.username or credentials.username
        password = url.password if url.password is not None else credentials.password
        if password is not None and not username:
            source = credentials.password_source or "the URL"
            raise CredentialsError(f"a password is set ({source}) but no user name for {url.redacted()}: "
                                   "set --username or $MQTT_USERNAME, or put the user in the URL")
        urls.append(replace(url, username=username, password=password))
    return Brokers(tuple(urls))
