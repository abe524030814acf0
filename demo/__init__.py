"""The demo: broker, simulated cluster, real watchers, console and terminal LEDs wired together.

The top layer: it may import every other package; nothing imports it.
"""
