"""The secrets this process knows, and their removal from any text before it is shown.

Every password the process learns — from a broker URL, ``$MQTT_PASSWORD`` or a password
file — is registered here once (:func:`remember`), in the forms it can take in text:
as is, percent-encoded (as in a URL), JSON-escaped and as Python shows it in a
``repr`` (of the string or its UTF-8 bytes). The log formatter of ``bus.shell`` runs every formatted record, tracebacks
included, through :func:`redact`; usage errors go through it too. So no log line, no
error and no third-party log record (paho's own logger) can print a password, even
one that a message or an exception happened to carry.

Passwords in URLs (``scheme://user:password@``) are masked in any text whether
remembered or not, so a mistyped option (``--brokr mqtt://u:p@h``) cannot show one in
argparse's usage error either. Secrets shorter than :data:`MIN_LENGTH` characters are not guarded in free text:
replacing every ``ab`` of a log would make it unreadable, and such a password protects
nothing anyway. Pure and thread-safe (a set behind a lock).
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote

MASK = "***"
MIN_LENGTH = 4

# scheme://user:password@ — the password runs to the last '@' of the word, as in bus.urls
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^\s:@/]*):(\S*)@")

_lock = threading.Lock()
_secrets: set[str] = set()


def remember(secret: str | None) -> None:
    """Guard ``secret`` from now on (``None`` and short ones are ignored)."""
    if secret is None or len(secret) < MIN_LENGTH:
        return
    forms = {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             repr(secret)[1:-1], repr(secret.encode())[2:-1]}
    with _lock:
        _secrets.update(form for form in forms if len(form) >= MIN_LENGTH)


def redact(text: str) -> str:
    """``text`` without secrets: every remembered one, and any URL's password, become ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@", text)


def forget_all() -> None:
    """Forget every secret (tests)."""
    with _lock:
        _secrets.clear()
