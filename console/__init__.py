"""The web console: the LED wall, strategy plans and their executors (simulated and real)."""
