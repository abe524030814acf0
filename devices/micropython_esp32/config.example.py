"""Settings of the ESP32 subscriber: copy to ``config.py`` on the board and edit.

Never commit your own ``config.py``: it holds your Wi-Fi and broker passwords.
"""

WIFI_SSID = "my-network"
WIFI_PASSWORD = "my-wifi-password"

MQTT_HOST = "192.168.1.10"  # the Mosquitto the watchers publish to
MQTT_PORT = 1883
MQTT_USER = None  # or "user" (see broker/mosquitto.prod.conf)
MQTT_PASSWORD = None
TOPIC_PREFIX = ""  # as the watchers' --topic-prefix, e.g. "shinealight/"
NODE = "node-1"  # the Kubernetes node to show
AGENT_ID = "esp32-strip-1"  # the MQTT client id, and agents/<id>/status

STRIP = "ws2812"  # "ws2812" (NeoPixel, one data wire) or "apa102" (DotStar, data + clock)
LEDS = 8
DATA_PIN = 13
CLOCK_PIN = 14  # APA102 only
BRIGHTNESS = 0.2  # 0..1; WS2812 colours are scaled, APA102 uses its 5-bit global brightness
FPS = 30  # frames per second while something animates
MAX_PODS = 200  # pods tracked at most (~100 bytes of heap each); the rest shows as overflow
