"""Stand-in for ``umqtt.simple`` (micropython-lib 1.8): its API and its waiting behaviour.

The packets go to the broker stand-in in ``board.py`` instead of a socket. What matters to
the program is kept: ``connect`` opens a new link and raises ``OSError`` when the broker
cannot be reached; ``subscribe`` and a QoS 1 ``publish`` wait for their SUBACK / PUBACK
through ``self.wait_msg()`` (so a subclass's ``wait_msg`` -- umqtt.robust's -- is the one
that waits); ``check_msg`` reads at most one packet without blocking; a PUBLISH calls the
callback with the topic and payload as ``bytes``; a dead link raises ``OSError``.

A message longer than the scenario's ``read_limit`` raises ``MemoryError`` after its
header was read, as the real one does when it cannot allocate the payload, and leaves the
link unusable (the stream is mid-packet).
"""

import board

PUBLISH, PUBACK, SUBACK = 0x30, 0x40, 0x90


class MQTTException(Exception):
    pass


def _bytes(value):
    return value.encode() if isinstance(value, str) else bytes(value)


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None, ssl_params=None):
        self.client_id = client_id
        self.server = server
        self.port = port or 1883
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.sock = None
        self.pid = 0
        self.cb = None
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False
        self.acked = None

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        assert 0 <= qos <= 2
        assert topic
        self.lw_topic, self.lw_msg, self.lw_qos, self.lw_retain = _bytes(topic).decode(), _bytes(msg), qos, retain

    def connect(self, clean_session=True, timeout=None):
        if self.sock:
            self.sock.close()
        self.sock = None
        self.sock = board.broker.connect(self, clean_session)
        return 0

    def disconnect(self):
        self.sock.send(("disconnect",))
        self.sock.close()

    def ping(self):
        self.sock.send(("pingreq",))

    def _next_pid(self):
        self.pid += 1
        return self.pid

    def publish(self, topic, msg, retain=False, qos=0):
        assert qos in (0, 1)
        pid = self._next_pid() if qos else 0
        self.sock.send(("publish", pid, _bytes(topic).decode(), _bytes(msg), retain, qos))
        while qos == 1:
            if self.wait_msg() == PUBACK and self.acked == pid:
                return

    def subscribe(self, topic, qos=0):
        assert self.cb is not None, "Subscribe callback is not set"
        pid = self._next_pid()
        self.sock.send(("subscribe", pid, _bytes(topic).decode(), qos))
        while True:
            if self.wait_msg() == SUBACK and self.acked == pid:
                return

    def wait_msg(self):
        packet = self.sock.read()
        self.sock.setblocking(True)
        if packet is None or packet[0] == "pingresp":
            return None
        if packet[0] != "publish":
            self.acked = packet[1]
            return SUBACK if packet[0] == "suback" else PUBACK
        _, topic, payload, retained = packet
        limit = board.scenario.get("read_limit")
        if limit is not None and len(payload) > limit:
            self.sock.corrupt = True
            raise MemoryError(f"memory allocation failed, allocating {len(payload)} bytes")
        board.emit("message", board.now, topic, board.hexed(payload), retained)
        self.cb(topic.encode(), payload)
        return PUBLISH | 2 | retained

    def check_msg(self):
        self.sock.setblocking(False)
        return self.wait_msg()
