"""Stand-in for MicroPython's ``machine``: pins, and an SPI bus that records what it sends."""

import board


class Pin:
    def __init__(self, number, *args, **kwargs):
        self.number = number


class SPI:
    def __init__(self, bus, baudrate=0, sck=None, mosi=None, **kwargs):
        board.emit("spi_open", board.now, bus, baudrate, sck.number, mosi.number)

    def write(self, data):
        board.emit("spi", board.now, board.hexed(data))
