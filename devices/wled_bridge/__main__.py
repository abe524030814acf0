import sys

from devices.wled_bridge.cli import main

sys.exit(main())
