"""Names as Kubernetes makes them: ReplicaSet template hashes, pod name suffixes, uids.

Pure. ``template_hash`` follows ``controller.ComputeHash``: FNV-1a (32 bit) over the pod
template, printed in decimal, each digit mapped through ``rand.SafeEncodeString``'s
alphabet — consonants and digits without vowels, 0, 1 and 3, so no name spells a word.
The template is hashed as canonical JSON rather than Go's object dump, so the values
differ from a real cluster's, but the shape (``whoami-7d5f8c9b6``) and the property
that matters hold: the same template always gives the same ReplicaSet name, so
applying an older template again returns to its ReplicaSet, as a rollback does.

Pod names take 5 random characters of the same alphabet after ``<replicaset>-``, as
``generateName`` does, from a seeded ``random.Random`` so a run can be replayed.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping
from typing import Any

ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a_32(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: every character mapped into ``ALPHANUMS``."""
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in text)


def template_hash(template: Mapping[str, Any]) -> str:
    """The ``pod-template-hash`` label of a pod template (a JSON-able mapping)."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    return safe_encode(str(fnv1a_32(canonical)))


def random_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(ALPHANUMS) for _ in range(length))


def random_uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
