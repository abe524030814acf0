"""The board's own ``json``, with the ESP32's limit: decoding a text longer than the
scenario's ``decode_limit`` raises ``MemoryError``, as on a heap that cannot hold it.

(The WebAssembly port grows its heap on demand, so it never runs out by itself.)
"""

import board
import ujson

dumps = ujson.dumps
load = ujson.load


def loads(text):
    limit = board.scenario.get("decode_limit")
    if limit is not None and len(text) > limit:
        raise MemoryError(f"memory allocation failed, decoding {len(text)} bytes")
    return ujson.loads(text)
