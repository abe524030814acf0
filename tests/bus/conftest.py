"""The bus tests remember made-up passwords (``bus.redaction`` is process-wide): forget them after each test,
so a generated one (``node``, say) cannot redact another test's output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bus import redaction


@pytest.fixture(autouse=True)
def forget_secrets() -> Iterator[None]:
    yield
    redaction.forget_all()
