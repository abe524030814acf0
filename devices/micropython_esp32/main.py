"""Shine a Light on an ESP32 running MicroPython: Wi-Fi, MQTT, and an LED strip.

The I/O shell around ``ledlist.py`` (which holds every rule and is tested on CPython).
Copy ``ledlist.py``, ``main.py`` and your ``config.py`` to the board; ``umqtt.simple``
comes with most ESP32 builds (else ``mpremote mip install umqtt.simple``).

Design notes:

- Subscribe to ``state`` *before* ``pods``: the broker sends the retained snapshot while
  handling the first SUBSCRIBE, so every event we see is newer than it.
- A clean MQTT session: after a disconnect the retained snapshot brings us up to date;
  a microcontroller that is away for a day should not have a day of events queued.
- On a gap, ``ledlist`` asks for a resync: we SUBSCRIBE to the state topic again, and
  the broker re-sends the retained snapshot (MQTT 3.1.1 §3.8.4; ``umqtt.simple`` has no
  unsubscribe, and needs none). Never from inside the message callback: ``subscribe``
  waits for its SUBACK and would re-enter the callback.
- Frames are written only when they change, at most ``FPS`` times a second; a strip
  that shows a steady list costs nothing but ``check_msg`` polling.
- Any network error: the strip keeps its last frame, we reconnect with backoff.
- Time is a monotonic millisecond counter built from ``ticks_diff``, which never wraps.
"""

import time

import config
import ledlist
import machine
import network
from umqtt.simple import MQTTClient

KEEPALIVE = 30


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
    print("wifi", wlan.ifconfig()[0])


class Subscriber:
    def __init__(self, strip):
        prefix = config.TOPIC_PREFIX + "nodes/" + config.NODE.replace(".", "_") + "/"  # dots as '_' in topics
        self.state_topic, self.pods_topic = prefix + "state", prefix + "pods"
        self.status_topic = config.TOPIC_PREFIX + "agents/" + config.AGENT_ID + "/status"
        self.view = ledlist.NodeView(config.NODE, config.LEDS)
        self.strip = strip
        self.clock = Clock()
        self.resync = False
        self.shown = None

    def on_message(self, topic, payload):
        kind = "state" if topic.decode() == self.state_topic else "pods"
        if self.view.handle(kind, payload, self.clock()):
            self.resync = True

    def connect(self):
        client = MQTTClient("esp32-" + config.AGENT_ID, config.MQTT_HOST, port=config.MQTT_PORT,
                            user=config.MQTT_USER, password=config.MQTT_PASSWORD, keepalive=KEEPALIVE)
        client.set_callback(self.on_message)
        client.set_last_will(self.status_topic, b"offline", retain=True, qos=1)
        client.connect(clean_session=True)
        client.subscribe(self.state_topic, qos=1)
        client.subscribe(self.pods_topic, qos=1)
        client.publish(self.status_topic, b"online", retain=True, qos=1)
        print("mqtt connected, showing", config.NODE)
        return client

    def render(self):
        now = self.clock()
        if not (self.view.changed or self.view.animated(now)):
            return
        self.view.changed = False
        frame = self.view.frame(now)
        if frame != self.shown:
            self.strip.show(frame)
            self.shown = frame

    def serve(self, client):
        period, last_ping = 1000 // config.FPS, self.clock()
        while True:
            client.check_msg()
            if self.resync:
                self.resync = False
                client.subscribe(self.state_topic, qos=1)
            if self.clock() - last_ping > KEEPALIVE * 500:
                client.ping()
                last_ping = self.clock()
            self.render()
            time.sleep_ms(period)


def main():
    strip = (Apa102 if config.STRIP == "apa102" else Ws2812)(config.LEDS)
    subscriber, backoff = Subscriber(strip), 1
    while True:
        try:
            connect_wifi()
            client = subscriber.connect()
            backoff = 1
            subscriber.serve(client)
        except OSError as e:  # Wi-Fi, DNS, socket, broker: keep the last frame and retry
            print("network error:", e, "- retrying in", backoff, "s")
            time.sleep(backoff)
            backoff = min(backoff * 2, 30)
            if subscriber.view.bad:
                print("bad input so far:", subscriber.view.bad)


main()
