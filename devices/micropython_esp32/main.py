"""Shine a Light on an ESP32 running MicroPython: Wi-Fi, MQTT, and an LED strip.

The I/O shell around ``ledlist.py`` (which holds every rule). Copy ``ledlist.py``,
``main.py`` and your ``config.py`` to the board; ``umqtt.robust`` and ``umqtt.simple``
are frozen into the stock ESP32 firmware (else ``mpremote mip install umqtt.robust``).
Tested under the real MicroPython (its WebAssembly port) in ``tests/devices/``.

Design notes:

- Subscribe to ``state`` *before* ``pods``: the broker sends the retained snapshot while
  handling the first SUBSCRIBE, so every event we see is newer than it. ``status`` too:
  a watcher that is ``offline`` or ``degraded`` makes the strip stale.
- A clean MQTT session, always: after a disconnect the retained snapshot brings us up to
  date; a microcontroller that is away for a day should not have a day of events queued.
- ``umqtt.robust`` reconnects by itself inside ``check_msg`` and ``publish`` (it calls
  ``connect(False)`` until that works). The subscriptions of the old session are gone
  then, so :class:`Connection` marks every connect *fresh* and the loop subscribes again
  and says ``online`` again. A reconnect while we wait for the SUBACK or PUBACK of the
  dead connection raises :class:`Resubscribe`: that acknowledgement never comes, and
  ``umqtt.simple`` would wait for it forever.
- Reconnecting never stops: robust retries forever, backing off 2 s -> 30 s, and the strip
  keeps animating meanwhile (a red flash finishes, the gap closes).
- On a gap, ``ledlist`` asks for a resync: we SUBSCRIBE to the state topic again, and
  the broker re-sends the retained snapshot (MQTT 3.1.1 section 3.8.4). Never from inside
  the message callback: ``subscribe`` waits for its SUBACK and would re-enter it.
- Frames are computed only when something changed or moves, at most ``FPS`` times a
  second, and written only when they differ; the first still frame after an animation
  is always computed (a finished flash must close its gap).
- Memory: ``ledlist`` caps the pods it tracks (``MAX_PODS``) and drops a message whose
  decoding runs out of memory; a ``MemoryError`` while umqtt reads a message leaves the
  socket mid-packet, so we reconnect and follow events without the snapshot for a minute.
- Time is a monotonic millisecond counter built from ``ticks_diff``, which never wraps.
"""

import gc
import time

import config
import ledlist
import machine
import network
from umqtt.robust import MQTTClient
from umqtt.simple import MQTTException

KEEPALIVE = 30
MAX_BACKOFF_S = 30
SNAPSHOT_PAUSE_MS = 60000  # after a snapshot too big to read: follow events only this long
REPORT_EVERY_MS = 10000
MESSAGES_PER_TURN = 20  # then a frame: a burst never freezes the strip


class Clock:
    """Milliseconds since start; ``ticks_ms`` wraps after ~12 days, this does not."""

    def __init__(self):
        self.last = time.ticks_ms()
        self.now = 0

    def __call__(self):
        tick = time.ticks_ms()
        self.now += time.ticks_diff(tick, self.last)
        self.last = tick
        return self.now


class Apa102:
    """APA102 / DotStar over hardware SPI: start frame, one 4-byte frame per LED, end frame."""

    def __init__(self, leds):
        self.spi = machine.SPI(1, baudrate=4000000, sck=machine.Pin(config.CLOCK_PIN),
                               mosi=machine.Pin(config.DATA_PIN))
        self.leds = leds
        self.level = 0xE0 | max(1, round(config.BRIGHTNESS * 31))

    def show(self, frame):
        data = bytearray(4 + 4 * self.leds + (self.leds + 15) // 16)
        for i, (r, g, b) in enumerate(frame):
            data[4 + 4 * i: 8 + 4 * i] = bytes((self.level, b, g, r))
        self.spi.write(data)


class Ws2812:
    """WS2812 / NeoPixel: no global brightness, so colours are scaled."""

    def __init__(self, leds):
        import neopixel

        self.pixels = neopixel.NeoPixel(machine.Pin(config.DATA_PIN), leds)

    def show(self, frame):
        for i, color in enumerate(frame):
            self.pixels[i] = ledlist.scale(color, config.BRIGHTNESS)
        self.pixels.write()


def connect_wifi():
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(config.WIFI_SSID, config.WIFI_PASSWORD)
        for _ in range(40):
            if wlan.isconnected():
                break
            time.sleep_ms(500)
    if not wlan.isconnected():
        raise OSError("no Wi-Fi connection to " + config.WIFI_SSID)


class Resubscribe(Exception):
    """umqtt.robust reconnected while we waited for an acknowledgement on the old connection."""


class Connection(MQTTClient):
    """``umqtt.robust``, told what to do after each of its reconnects (see the module notes)."""

    def __init__(self, pause, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pause = pause
        self.fresh = False
        self.waiting = False

    def connect(self, clean_session=True):
        connect_wifi()
        super().connect(True)
        print("mqtt connected to", config.MQTT_HOST)
        self.fresh = True
        if self.waiting:
            raise Resubscribe()

    def delay(self, attempt):
        """Between robust's reconnect attempts: back off, and keep the strip animating."""
        self.pause(min(2 ** attempt, MAX_BACKOFF_S) * 1000)

    def acknowledged(self, method, *args):
        """A call that waits for the broker's acknowledgement (SUBACK, PUBACK)."""
        self.waiting = True
        try:
            method(*args)
        finally:
            self.waiting = False


class Subscriber:
    def __init__(self, strip):
        prefix = config.TOPIC_PREFIX + "nodes/" + config.NODE.replace(".", "_") + "/"  # dots as '_' in topics
        self.state_topic = prefix + "state"
        self.topics = (self.state_topic, prefix + "status", prefix + "pods")  # snapshot first
        self.kinds = {topic: topic[len(prefix):] for topic in self.topics}
        self.status_topic = config.TOPIC_PREFIX + "agents/" + config.AGENT_ID + "/status"
        self.view = ledlist.NodeView(config.NODE, config.LEDS, getattr(config, "MAX_PODS", ledlist.MAX_PODS))
        self.strip = strip
        self.clock = Clock()
        self.period = 1000 // config.FPS
        self.resync = False
        self.moving = True
        self.shown = None
        self.without_snapshot_until = -1
        self.reported, self.reported_at = (0, 0), -REPORT_EVERY_MS

    def on_message(self, topic, payload):
        kind = self.kinds.get(topic.decode())
        if kind is not None and self.view.handle(kind, payload, self.clock()):
            self.resync = True
        if kind == "state":
            gc.collect()  # a snapshot leaves its decoded JSON behind: free it while it is fresh

    def connection(self):
        client = Connection(self.pause, config.AGENT_ID, config.MQTT_HOST, port=config.MQTT_PORT,
                            user=config.MQTT_USER, password=config.MQTT_PASSWORD, keepalive=KEEPALIVE)
        client.set_callback(self.on_message)
        client.set_last_will(self.status_topic, b"offline", retain=True, qos=1)
        return client

    def subscribe(self, client):
        """After every connect: the node's topics, snapshot first, then our ``online``."""
        client.fresh = False
        snapshot = self.clock() >= self.without_snapshot_until
        for topic in self.topics if snapshot else self.topics[1:]:
            client.acknowledged(client.subscribe, topic, 1)
        client.acknowledged(client.publish, self.status_topic, b"online", True, 1)
        print("subscribed, showing", config.NODE, "" if snapshot else "(events only: the snapshot is too big)")

    def step(self, client):
        """One turn of the loop: subscriptions, then the messages that are there (a few)."""
        if client.fresh:
            self.subscribe(client)
        elif self.resync:
            self.resync = False
            if self.clock() >= self.without_snapshot_until:
                client.acknowledged(client.subscribe, self.state_topic, 1)
        try:
            for _ in range(MESSAGES_PER_TURN):
                if client.check_msg() is None:  # nothing more there (or a PINGRESP)
                    break
        except MemoryError:  # umqtt could not hold the message: the socket is mid-packet
            gc.collect()
            self.view.count("no_memory")
            self.without_snapshot_until = self.clock() + SNAPSHOT_PAUSE_MS
            print(f"a message did not fit in memory ({gc.mem_free()} bytes free): reconnecting")
            client.reconnect()

    def serve(self, client):
        last_ping = self.clock()
        while True:
            try:
                self.step(client)
                if self.clock() - last_ping > KEEPALIVE * 500:
                    last_ping = self.clock()
                    client.ping()
            except Resubscribe:
                pass  # fresh again: the next step subscribes on the new connection
            except OSError as e:  # ping on a dead socket: robust does not cover it
                print("mqtt error:", e)
                client.reconnect()
            self.render()
            self.report()
            time.sleep_ms(self.period)

    def pause(self, ms):
        """Wait ``ms``, rendering at ``FPS``: animations go on while we reconnect."""
        end = self.clock() + ms
        while True:
            self.render()
            left = end - self.clock()
            if left <= 0:
                return
            time.sleep_ms(min(left, self.period))

    def render(self):
        now = self.clock()
        moving = self.view.animated(now)
        if not (self.view.changed or moving or self.moving):
            return
        self.view.changed, self.moving = False, moving
        frame = self.view.frame(now)
        if frame != self.shown:
            self.strip.show(frame)
            self.shown = frame

    def report(self):
        """Dropped messages and untracked pods, on the serial console, at most every 10 s."""
        now, view = self.clock(), self.view
        if now - self.reported_at < REPORT_EVERY_MS:
            return
        news = (sum(view.bad.values()), view.untracked)
        if news != self.reported:
            self.reported, self.reported_at = news, now
            if view.bad:
                print("dropped messages:", view.bad)
            if view.untracked:
                print("tracking the first", view.limit, "pods;", view.untracked, "more not tracked")


def main():
    strip = (Apa102 if config.STRIP == "apa102" else Ws2812)(config.LEDS)
    subscriber = Subscriber(strip)
    client, backoff = subscriber.connection(), 1
    while True:
        try:
            client.connect()
            backoff = 1
            subscriber.serve(client)
        except (OSError, MQTTException, AssertionError) as e:  # umqtt asserts on a malformed reply
            print("network error:", repr(e), "- retrying in", backoff, "s")
            subscriber.pause(backoff * 1000)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


main()
