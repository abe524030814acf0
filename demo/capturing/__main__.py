import sys

from demo.capturing.cli import main

sys.exit(main())
