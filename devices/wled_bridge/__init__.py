"""The WLED bridge: one node's pods on a WLED-controlled strip, over WLED's JSON API.

``python -m devices.wled_bridge --node node-1 --wled http://wled.local``. The bridge is the
LED agent (``led_agent.agent.Agent``: board, subscriber algorithm, animations, render
loop) with one more device, :class:`devices.wled_bridge.wled.WledDevice`, that POSTs each
changed frame to ``/json/state``. See docs/devices.md.
"""
