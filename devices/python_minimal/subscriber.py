"""The smallest Shine a Light subscriber: one node's pods as coloured blocks (paho-mqtt 2.x only).

    python subscriber.py --host 127.0.0.1 --node node-1 [--prefix shinealight/] [--json] [--count N]
"""

import argparse
import json
import re
import sys
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

pods: list[dict[str, Any]] = []  # the node's pods, in order: LED i shows pods[i]


def key(pod: dict[str, Any]) -> str:  # identity: uid, else namespace/pod, else pod
    return str(pod.get("uid") or (f"{pod['namespace']}/{pod['pod']}" if pod.get("namespace") else pod["pod"]))


def color(pod: dict[str, Any]) -> str:  # six hex digits; missing or invalid: blue
    c = pod.get("color")
    return c if isinstance(c, str) and re.fullmatch("[0-9a-f]{6}", c) else "0000ff"


def apply(topic: str, msg: dict[str, Any]) -> None:
    if topic.endswith("/state"):  # the retained snapshot: the whole list, in order
        pods[:] = [p for p in msg["pods"] if key(p)]
        return
    k, action = key(msg), msg["action"]
    if action not in ("add", "update", "remove"):
        raise ValueError(f"unknown action {action!r}")
    index = next((i for i, p in enumerate(pods) if key(p) == k), None)
    if action == "remove":
        if index is not None:
            del pods[index]  # the pods after it move up
    elif index is None:
        pods.append(msg)  # a new pod lights at the end
    else:
        pods[index] = msg  # a known pod keeps its place


def show(as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"pod": p["pod"], "color": color(p)} for p in pods]), flush=True)
    else:
        blocks = (f"\x1b[38;2;{int(c[:2], 16)};{int(c[2:4], 16)};{int(c[4:], 16)}m██" for c in map(color, pods))
        print("".join(blocks) + "\x1b[0m", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Show one node's pods as coloured blocks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--node", required=True)
    parser.add_argument("--prefix", default="", help="topic prefix, e.g. shinealight/")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of blocks")
    parser.add_argument("--count", type=int, default=0, help="exit after N messages (0: never)")
    args = parser.parse_args()
    level = args.node.replace(".", "_")  # a node name's dots are written '_' in topics (docs/protocol.md)
    topics = [(f"{args.prefix}nodes/{level}/{kind}", 1) for kind in ("state", "pods")]
    seen = 0

    def on_message(client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal seen
        seen += 1
        try:
            apply(message.topic, json.loads(message.payload))
        except (ValueError, KeyError, TypeError, AttributeError) as e:  # bad input: say so, show as before
            print(f"ignored a bad message on {message.topic}: {e!r}", file=sys.stderr, flush=True)
        else:
            show(args.json)
        if seen == args.count:
            client.disconnect()

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topics)  # on every (re)connect
    client.connect(args.host, args.port)
    client.loop_forever()


if __name__ == "__main__":
    main()
