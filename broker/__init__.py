"""Broker configuration and launchers: Mosquitto when installed, an embedded broker otherwise."""
