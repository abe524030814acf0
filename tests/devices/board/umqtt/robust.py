"""Stand-in for ``umqtt.robust`` (micropython-lib 1.0.3), as its documentation describes it.

A subclass of ``umqtt.simple.MQTTClient`` that catches ``OSError`` and reconnects instead:
``reconnect()`` calls ``self.connect(False)`` (a subclass's ``connect`` if it has one)
until it works, calling ``self.delay(attempt)`` between attempts (``DELAY`` seconds);
``publish`` and ``wait_msg`` retry after reconnecting; ``check_msg`` tries ``attempts``
times. Nothing else is retried: ``ping`` and ``connect`` raise as umqtt.simple's do.
"""

import time

from umqtt import simple


class MQTTClient(simple.MQTTClient):
    DELAY = 2
    DEBUG = False

    def delay(self, attempt):
        time.sleep(self.DELAY)

    def log(self, in_reconnect, error):
        if self.DEBUG:
            print("mqtt reconnect:" if in_reconnect else "mqtt:", repr(error))

    def reconnect(self):
        attempt = 0
        while True:
            try:
                return self.connect(False)
            except OSError as e:
                self.log(True, e)
                attempt += 1
                self.delay(attempt)

    def publish(self, topic, msg, retain=False, qos=0):
        while True:
            try:
                return super().publish(topic, msg, retain, qos)
            except OSError as e:
                self.log(False, e)
            self.reconnect()

    def wait_msg(self):
        while True:
            try:
                return super().wait_msg()
            except OSError as e:
                self.log(False, e)
            self.reconnect()

    def check_msg(self, attempts=2):
        while attempts:
            self.sock.setblocking(False)
            try:
                return super().wait_msg()
            except OSError as e:
                self.log(False, e)
            self.reconnect()
            attempts -= 1
