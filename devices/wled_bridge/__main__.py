from devices.wled_bridge.cli import main

raise SystemExit(main())
