"""Stand-in for MicroPython's ``network``: a station interface that joins at once."""

STA_IF = 0
AP_IF = 1


class WLAN:
    def __init__(self, interface=STA_IF):
        self.up = False
        self.joined = False

    def active(self, flag=None):
        if flag is not None:
            self.up = flag
        return self.up

    def connect(self, ssid, password):
        self.joined = self.up

    def isconnected(self):
        return self.joined

    def ifconfig(self):
        return ("192.0.2.10", "255.255.255.0", "192.0.2.1", "192.0.2.1")
