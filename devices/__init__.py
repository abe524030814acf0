"""Subscribers that are not the Python agent on Linux: ESP32 (MicroPython, ESPHome), a WLED bridge,
and the minimal example of docs/devices.md. Only ``devices.wled_bridge`` is a Python package that
runs here (``python -m devices.wled_bridge``); the others are copied to their devices."""
