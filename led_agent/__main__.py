import sys

from led_agent.cli import main

sys.exit(main())
