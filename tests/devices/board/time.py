"""Stand-in for MicroPython's ``time``: the board's virtual clock (see board.py)."""

import board


def ticks_ms():
    return board.now


def ticks_diff(a, b):
    return a - b


def ticks_add(a, b):
    return a + b


def sleep_ms(ms):
    board.advance(ms)


def sleep(seconds):
    board.advance(round(seconds * 1000))
