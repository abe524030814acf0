"""The ESP32 subscriber's numbers, measured in MicroPython itself (its WebAssembly port, Node.js).

    python -m bench.micropython            # ~1 minute
    python -m bench.micropython --quick    # smaller counts, for a smoke run

1. Heap (``gc.mem_alloc()``): a ``ledlist.NodeView`` holding N pods, per pod; a snapshot's
   decoded JSON per payload byte; everything taking a snapshot allocates, per payload byte
   (an upper bound of its peak: this port collects only between chunks of Python).
2. Message rate of ``ledlist.NodeView.handle`` on pod events: in MicroPython, and the same
   code in CPython plus the agent's core (``decode_event`` + ``NodeList.apply_event``) in
   CPython, measured in the same run as the baselines.
3. The whole subscriber: the unmodified ``main.py`` on the board stand-ins
   (``tests/devices/board``) taking a burst of events: wall time per message, and the rate
   its loop allows in board time (``MESSAGES_PER_TURN`` per frame).

This is MicroPython on this machine's x86 core, not on an ESP32's 240 MHz Xtensa: rates are
an upper bound for the board, heap figures carry over (same object layout, 32-bit words in
both; the ESP32 port's GC blocks are 16 bytes like this one's).
"""

from __future__ import annotations

import argparse
import json
import time

from bus.messages import decode_event
from bus.ordering import NodeList
from led_agent.rendering import Scene
from tests.devices.esp32 import START_MS, Scenario, run_board
from tests.devices.micropython import ESP32_DIR, load_ledlist, run_micropython

POD_SIZES = (0, 25, 50, 100, 200, 400)

SETUP = """
import gc, json, time, ledlist
def pod(i):
    return {"pod": "whoami-7c9d8b6f5d-%05d" % i, "namespace": "default",
            "uid": "%08x-63a6-46e6-997c-4feaebc794b1" % i, "color": "ffff00", "state": "ready"}
def snapshot(n):
    return json.dumps({"v": 1, "node": "n1", "seq": 1, "epoch": "19cc2d1e0b1-4f2a1c",
                       "ts": "2026-11-26T21:00:00.123Z", "pods": [pod(i) for i in range(n)]}).encode()
def event(i, n):
    action = ("add", "update", "remove")[(i // n) % 3]
    data = {"v": 1, "action": action, "node": "n1", "seq": i + 1, "epoch": "19cc2d1e0b1-4f2a1c",
            "ts": "2026-11-26T21:00:00.123Z"}
    data.update(pod(i % n))
    data["state"] = "pending" if action == "add" else "ready"
    return json.dumps(data).encode()
p = tree = view = None
base = total = 0
gc.collect()
"""


def heap_chunks(pods: int) -> list[str]:
    """Each chunk ends where this port collects garbage (back in JavaScript)."""
    return [
        f"p = snapshot({pods})\ngc.collect()",
        "base = gc.mem_alloc()",
        "tree = json.loads(p)\ngc.collect()",
        "tree_bytes = gc.mem_alloc() - base\ntree = None\ngc.collect()",
        "base = gc.mem_alloc()",
        "view = ledlist.NodeView('n1', 8, 10000)\nview.handle('state', p, 0)\ntotal = gc.mem_alloc() - base\n"
        "gc.collect()",
        f"print('@@' + json.dumps([{pods}, len(p), tree_bytes, total, gc.mem_alloc() - base, len(view.pods)]))\n"
        "view = p = None\ngc.collect()",
    ]


def heap() -> list[list[int]]:
    files = {"/ledlist.py": (ESP32_DIR / "ledlist.py").read_text()}
    chunks = ["import gc\ngc.collect()", "empty = gc.mem_alloc()", "import ledlist\ngc.collect()",
              "print('@@' + str(gc.mem_alloc() - empty))", SETUP]  # fmt: skip
    for pods in POD_SIZES:
        chunks += heap_chunks(pods)
    run = run_micropython(files, chunks)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line[2:]) for line in run.lines if line.startswith("@@")]
    print(f"ledlist.py imported from source: {lines[0]} bytes of heap (frozen or .mpy: bytecode off the heap)")
    return lines[1:]


def print_heap(rows: list[list[int]]) -> None:
    print(f"{'pods':>5} {'snapshot B':>10} {'JSON tree B':>11} {'taking B':>9} {'view B':>8} {'view B/pod':>10} "
          f"{'tree/byte':>9} {'taking/byte':>11}")  # fmt: skip
    empty_view = rows[0][4]
    for pods, size, tree, total, view, tracked in rows:
        assert tracked == pods
        per_pod = (view - empty_view) / pods if pods else 0.0
        print(f"{pods:>5} {size:>10} {tree:>11} {total:>9} {view:>8} {per_pod:>10.1f} "
              f"{tree / size:>9.2f} {total / size:>11.2f}")  # fmt: skip


def rate_micropython(events: int, pods: int) -> float:
    files = {"/ledlist.py": (ESP32_DIR / "ledlist.py").read_text()}
    timed = (f"payloads = [event(i, {pods}) for i in range({events})]\n"
             "view = ledlist.NodeView('n1', 8, 10000)\n"
             "start = time.ticks_us()\n"
             "for i, payload in enumerate(payloads):\n"
             "    view.handle('pods', payload, i)\n"
             "print('@@' + str(time.ticks_diff(time.ticks_us(), start)))\n")  # fmt: skip
    run = run_micropython(files, [SETUP, timed])
    assert run.returncode == 0, run.stderr
    micros = int(next(line[2:] for line in run.lines if line.startswith("@@")))
    return events / (micros / 1e6)


def cpython_payloads(events: int, pods: int) -> list[bytes]:
    scope: dict[str, object] = {}
    exec(SETUP.replace("import gc, json, time, ledlist", "import json").replace("gc.collect()", ""), scope)
    event = scope["event"]
    return [event(i, pods) for i in range(events)]  # type: ignore[operator]


def rate_cpython_ledlist(payloads: list[bytes]) -> float:
    ll = load_ledlist()
    view = ll.NodeView("n1", 8, 10000)
    start = time.perf_counter()
    for i, payload in enumerate(payloads):
        view.handle("pods", payload, i)
    return len(payloads) / (time.perf_counter() - start)


def rate_agent_core(payloads: list[bytes]) -> float:
    model, scene = NodeList(), Scene()
    start = time.perf_counter()
    for i, payload in enumerate(payloads):
        outcome = model.apply_event(decode_event(payload))
        scene.apply(outcome.changes, live_count=len(model.entries), now=i / 1000)
    return len(payloads) / (time.perf_counter() - start)


def whole_subscriber(events: int) -> tuple[float, float]:
    """main.py taking ``events`` pod events due at once: (wall µs per message, messages/s of board time)."""
    def scenario(count: int) -> Scenario:
        built = Scenario("n1", retained=[("nodes/n1/state", json.dumps({"v": 1, "node": "n1", "seq": 0}).encode())])
        for i in range(count):
            data = {"v": 1, "action": "add" if i % 2 == 0 else "remove", "pod": f"p{i // 2 % 40}", "node": "n1",
                    "seq": i + 1, "namespace": "default"}  # fmt: skip
            built.at(START_MS, "nodes/n1/pods", data)
        built.end_ms += 2 * count  # its loop takes ~1.7 ms of board time per message
        return built

    start = time.perf_counter()
    run_board(scenario(0))
    empty = time.perf_counter() - start
    start = time.perf_counter()
    run = run_board(scenario(events))
    wall = time.perf_counter() - start - empty
    times = [r[1] for r in run.of("message") if r[2].endswith("/pods")]
    assert len(times) == events
    board_ms = max(times[-1] - times[0], 1)
    return wall / events * 1e6, events / (board_ms / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    events, pods = (500, 20) if args.quick else (3000, 30)
    print("== heap in MicroPython (gc.mem_alloc, bytes)")
    print_heap(heap())
    print(f"\n== message rate: {events} pod events over {pods} pods, ledlist.NodeView.handle")
    payloads = cpython_payloads(events, pods)
    agent = rate_agent_core(payloads)
    cpython = rate_cpython_ledlist(payloads)
    micropython = rate_micropython(events, pods)
    print(f"agent core, CPython (baseline): {agent:10.0f} events/s")
    print(f"ledlist, CPython:               {cpython:10.0f} events/s  ({cpython / agent:.2f}x the agent)")
    print(f"ledlist, MicroPython (wasm):    {micropython:10.0f} events/s  ({micropython / agent:.2f}x the agent, "
          f"{micropython / cpython:.2f}x CPython)")  # fmt: skip
    burst = 400 if args.quick else 2000
    wall_us, board_rate = whole_subscriber(burst)
    print(f"\n== main.py, a burst of {burst} events due at once (board stand-ins, virtual time)")
    print(f"wall time per message: {wall_us:.0f} µs  ({1e6 / wall_us:.0f} messages/s of this machine's CPU)")
    print(f"board-time rate: {board_rate:.0f} messages/s (its loop: MESSAGES_PER_TURN per frame at FPS)")


if __name__ == "__main__":
    main()
