"""Stand-in for MicroPython's ``neopixel``: a strip whose ``write`` records the pixels."""

import board


class NeoPixel:
    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin
        self.pixels = [(0, 0, 0)] * n

    def __len__(self):
        return len(self.pixels)

    def __setitem__(self, index, color):
        r, g, b = color
        assert all(0 <= c <= 255 and isinstance(c, int) for c in color), color
        self.pixels[index] = (r, g, b)

    def __getitem__(self, index):
        return self.pixels[index]

    def fill(self, color):
        self.pixels = [color] * len(self.pixels)

    def write(self):
        board.emit("show", board.now, [f"{r:02x}{g:02x}{b:02x}" for r, g, b in self.pixels])
