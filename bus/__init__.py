"""The Shine a Light event bus: topics, messages, broker URLs, connections, record/replay.

Everything that publishes to or subscribes from the bus goes through this package, so
the contract (``docs/protocol.md``) lives in exactly one place.
"""
