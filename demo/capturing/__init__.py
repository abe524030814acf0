"""``python -m demo.capturing --out-dir tests/captures``: (re)make the captured bus streams.

Each capture is made as a user would make one by hand: a Mosquitto of its own, the
simulated cluster ticking in real time (``RealClock`` with a speed-up, so the timing is
realistic but short) behind its Kubernetes API server, one real ``python -m watcher``
process per node reading a kubeconfig (a DaemonSet, in miniature), and the real
:class:`bus.recording.Recorder` subscribed to ``nodes/#``. The app is driven through
the console's strategy plans on the console's simulated executor, so the pods carry the
chart's labels and roll out with the chart's strategy. Watchers are processes, not
threads, because one scenario kills one with SIGKILL: its last will, its successor's
new epoch and the successor's diff are what that capture is for.

The modules: ``rig.py`` sets up one capture's world and knows when it has settled;
``scenarios.py`` holds the scenarios and records one (its phases are in its docstring);
``cli.py`` is the command.

Deterministic-ish: the cluster is seeded (same pod names, same placement, same order of
events), but epochs, uids, timestamps and exact offsets differ from run to run. Tests
check the captures' properties, never their bytes.

Errors: :class:`CaptureFailed` (a part did not come up, a watcher died, the cluster did
not settle in time, the recorder could not write); the command prints it in one line
and exits with 1.
"""
