"""Automatic version colours: a pod's version → one colour of a fixed palette, the same everywhere.

Pure, and stateless on purpose: every watcher of every node, and every restart, must give
a version the same colour, so nothing may depend on what one process has seen. The rule
(docs/protocol.md, "How colours are chosen"):

1. The *version key* is the pod's ``app.kubernetes.io/version`` label, else its
   ``pod-template-hash`` label (every Deployment's pods have one); no key, no colour.
2. Split the key at its last run of ASCII digits: ``v1.2.13`` → stem ``v1.2.#``, number 13.
   A key without digits is all stem, number 0.
3. Colour = ``PALETTE[(fnv1a32(stem) + number) mod 10]`` (FNV-1a, 32 bits, over the stem's
   UTF-8 bytes; the number's value mod 10, however many digits it has).

What "consecutive versions are distinguishable" means without state: versions that differ
only in their last number by 1 to 9 — a patch or build number stepping on, ``v41`` → ``v42``,
``2026.11.0`` → ``2026.11.1`` — always get different colours, and one step apart they get
neighbours in :data:`PALETTE`, which is ordered so that neighbours are at least 90° apart
on the colour wheel. Any other two keys (a minor bump that resets the patch, two
pod-template-hashes, which are hashes) get colours from the stem's hash: different in 9 of
10 cases, the same in 1 of 10, always the same for the same pair. Set
``app.kubernetes.io/version`` (or the colour label) where that matters.

The palette leaves out red (``ff0000``, the removal flash), white (the overflow indicator)
and pure blue (``0000ff``, what devices show for a pod without a colour), so an automatic
colour never looks like one of those signals. Each entry is a fully saturated hue.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Hues 30° 60° 90° 120° 150° 180° 210° 270° 300° 330° (0° red and 240° blue left out), taken
# three at a time: each entry's neighbours are 90° or 120° away.
PALETTE: tuple[str, ...] = (
    "ff8000",  # orange      30°
    "00ff00",  # green      120°
    "0080ff",  # azure      210°
    "ff0080",  # rose       330°
    "80ff00",  # chartreuse  90°
    "00ffff",  # cyan       180°
    "ff00ff",  # magenta    300°
    "ffff00",  # yellow      60°
    "00ff80",  # spring     150°
    "8000ff",  # violet     270°
)

VERSION_LABEL = "app.kubernetes.io/version"
TEMPLATE_HASH_LABEL = "pod-template-hash"

_LAST_NUMBER = re.compile(r"[0-9]+(?=[^0-9]*$)")
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def version_key(labels: dict[str, object]) -> str | None:
    """The label a pod's automatic colour comes from: its version, else its template hash."""
    for label in (VERSION_LABEL, TEMPLATE_HASH_LABEL):
        value = labels.get(label)
        if isinstance(value, str) and value:
            return value
    return None


@lru_cache(maxsize=4096)  # a pure function of the key: the cache only saves the watch path some work
def version_color(key: str) -> str:
    """The palette colour of a version key (six lower-case hex digits)."""
    stem, number = split_key(key)
    return PALETTE[(fnv1a32(stem) + number) % len(PALETTE)]


def split_key(key: str) -> tuple[str, int]:
    """``v1.2.13`` → (``v1.2.#``, 13 mod the palette's size); no digits → (key, 0)."""
    match = _LAST_NUMBER.search(key)
    if match is None:
        return key, 0
    number = 0
    for digit in match.group():  # the value mod len(PALETTE), at any length
        number = (number * 10 + int(digit)) % len(PALETTE)
    return key[: match.start()] + "#" + key[match.end():], number


def fnv1a32(text: str) -> int:
    value = _FNV_OFFSET
    for byte in text.encode("utf-8", "surrogatepass"):
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value
