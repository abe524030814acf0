"""The world around the board under test: virtual time, a broker stand-in, and the record.

MicroPython code, run by the real MicroPython (its WebAssembly port) under Node.js; see
``run.mjs``. The stand-ins ``time``, ``machine``, ``network``, ``neopixel``, ``json`` and
``umqtt`` beside this file shadow the board's modules and talk to this one.

- Time is virtual: it advances only when the program sleeps (or blocks reading a socket
  that has nothing), so a run is deterministic and a 40 s capture takes a moment.
- The broker keeps retained messages, delivers the scenario's messages at their times to
  what the client subscribed, sends SUBACK before a topic's retained message (as
  Mosquitto does), answers PUBACK and PINGRESP, publishes the client's will when its
  connection is cut, refuses connections during outages and cuts them at given times.
  A clean session loses its subscriptions with the connection; a persistent one keeps
  them (no offline queue: the device always asks for a clean session). ``suback_delay``
  holds SUBACKs back that long, so a cut can fall while the client waits for one.
- Every observable thing is printed as one ``@@[kind, time, ...]`` JSON line: sleeps,
  frames shown, messages delivered, connects, subscriptions, publishes, cuts.
"""

import binascii
import json

now = 0
scenario = {}
broker = None


def emit(*record):
    print("@@" + json.dumps(record))


def unhex(text):
    return binascii.unhexlify(text)


def hexed(data):
    return binascii.hexlify(data).decode()


def load(path):
    global scenario, broker  # noqa: PLW0603 - the one world of this run, read by every stand-in
    with open(path) as f:
        scenario = json.load(f)
    broker = Broker(scenario)


def advance(ms, kind="sleep"):
    """The program sleeps ``ms`` (kind "sleep") or blocks on the socket ("wait")."""
    global now  # noqa: PLW0603
    if kind == "sleep":
        emit("sleep", now, ms)
    now += max(0, ms)
    broker.advance(now)
    if now >= scenario["end_ms"]:
        emit("end", now)
        raise SystemExit


class Link:
    """One connection between the client and the broker: packets as tuples, both ways."""

    def __init__(self, target):
        self.broker = target
        self.incoming = []
        self.alive = True
        self.corrupt = False
        self.blocking = True

    def setblocking(self, flag):
        self.blocking = flag

    def settimeout(self, timeout):
        self.blocking = timeout is None or timeout > 0

    def send(self, packet):
        if not self.alive or self.corrupt:
            raise OSError(104)  # ECONNRESET
        self.broker.receive(self, packet)

    def deliver(self, packet, delay=0):
        self.incoming.append((now + delay, packet))

    def read(self):
        """The next packet that has arrived; None when non-blocking and nothing has."""
        while True:
            if not self.alive or self.corrupt:
                raise OSError(104)
            if self.incoming and self.incoming[0][0] <= now:
                return self.incoming.pop(0)[1]
            if not self.blocking:
                return None
            advance(1, "wait")

    def close(self):
        if self.alive:
            self.broker.disconnect(self)


class Broker:
    def __init__(self, spec):
        self.retained = {topic: unhex(payload) for topic, payload in spec.get("retained", [])}
        self.schedule = [(t, topic, unhex(p), retain) for t, topic, p, retain in spec.get("schedule", [])]
        self.next = 0
        self.cuts = list(spec.get("cuts", []))
        self.outages = spec.get("outages", [])
        self.suback_delay = spec.get("suback_delay", 0)
        self.link = None
        self.client = None
        self.clean = True
        self.subscriptions = set()
        self.persistent = {}

    def refusing(self):
        return any(start <= now < stop for start, stop in self.outages)

    def connect(self, client, clean):
        if self.refusing():
            emit("refused", now)
            raise OSError(113)  # EHOSTUNREACH
        if self.link is not None:
            self.cut()
        self.link, self.client, self.clean = Link(self), client, clean
        self.subscriptions = set() if clean else self.persistent.pop(client.client_id, set())
        emit("connect", now, client.client_id, clean, client.lw_topic, client.lw_qos, client.lw_retain)
        return self.link

    def receive(self, link, packet):
        kind = packet[0]
        if kind == "subscribe":
            _, pid, topic, qos = packet
            self.subscriptions.add(topic)
            emit("subscribe", now, topic, qos)
            link.deliver(("suback", pid), self.suback_delay)
            if topic in self.retained:
                link.deliver(("publish", topic, self.retained[topic], True), self.suback_delay)
        elif kind == "publish":
            _, pid, topic, payload, retain, qos = packet
            emit("publish", now, topic, hexed(payload), retain, qos)
            if retain:
                self.keep(topic, payload)
            if qos == 1:
                link.deliver(("puback", pid))
        elif kind == "pingreq":
            link.deliver(("pingresp",))

    def keep(self, topic, payload):
        if payload:
            self.retained[topic] = payload
        else:
            self.retained.pop(topic, None)

    def advance(self, t):
        while self.next < len(self.schedule) and self.schedule[self.next][0] <= t:
            _, topic, payload, retain = self.schedule[self.next]
            self.next += 1
            if retain:
                self.keep(topic, payload)
            if self.link is not None and topic in self.subscriptions:
                self.link.deliver(("publish", topic, payload, False))
        while self.cuts and self.cuts[0] <= t:
            self.cuts.pop(0)
            self.cut()

    def cut(self):
        """The connection dies without a DISCONNECT: the broker publishes the client's will."""
        if self.link is None:
            return
        emit("cut", now)
        client = self.client
        if client.lw_topic and client.lw_retain:
            self.keep(client.lw_topic, client.lw_msg)
        self.drop()

    def disconnect(self, link):
        if link is self.link:
            emit("disconnect", now)
            self.drop()

    def drop(self):
        self.link.alive = False
        if not self.clean:
            self.persistent[self.client.client_id] = self.subscriptions
        self.link, self.subscriptions = None, set()
