"""Plain HTTP GETs against a part's health server (``/healthz``, ``/readyz``, ``/metrics``)."""

from __future__ import annotations

import urllib.error
import urllib.request


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET; an error status is an answer too, and 0 means nothing listens (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)
