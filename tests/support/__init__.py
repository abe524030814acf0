"""What the tests share: real brokers and probes, waiting, subprocesses, message builders, clocks.

Nothing here is a test; the fixtures that use it live in ``tests/conftest.py`` and the
folders' own conftests.
"""
