"""led_agent package."""
