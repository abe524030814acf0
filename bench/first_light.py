"""Time from ``make demo`` on a fresh clone to the first lit LED, as a newcomer sees it.

    python -m bench.first_light                      # HEAD, pip's and uv's caches as they are
    python -m bench.first_light --baseline c35cb2e   # that commit first, then HEAD, in one run
    python -m bench.first_light --cold-uv-cache      # also HEAD with an empty uv cache (a new machine)
    python -m bench.first_light --rounds 3           # each revision three times (the machine is shared)
    python -m bench.first_light --unset PYTHONDONTWRITEBYTECODE   # as from a shell without it

Each measured revision is cloned afresh (``git clone`` of this repository, committed
state only) into a temporary folder, and ``make demo ARGS="--console-port 0"`` runs there
in a real terminal: a tmux pane of 120 x 40 on a private server (``tests/support/
terminals.py``). The pane is read every 0.1 s; the figures are seconds from starting
``make`` to:

- ``installed`` — make has printed the demo's command line (the install is over);
- ``first light`` — a node row shows an LED in colour (a ``█`` block drawn in 24-bit
  colour on a line naming ``node-N``; the legend's samples name no node).

Then Ctrl-C, which must bring the shell's screen back. A second ``make demo`` in the
same clone (``--warm``, on by default) shows what a later run costs: no install at all.
Pip's cache and uv's cache are the machine's (``--cold-uv-cache`` adds a run whose uv
cache is a new empty folder: what a new machine pays, apart from pip's cache for uv itself).
The load average is printed before and after: on a shared 2-core machine it moves every
figure, so compare revisions measured in the same run, and look at the best of rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.harness import ROOT
from tests.support.terminals import Tmux, lit_colors

DARK_CELL = (70, 70, 70)
POLL_SECONDS = 0.1


@dataclass
class Run:
    label: str
    revision: str
    installed: float | None = None
    first_light: float | None = None
    restored: bool | None = None


def clone(revision: str | None, into: Path) -> str:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(into)], check=True)
    if revision:
        subprocess.run(["git", "-C", str(into), "checkout", "--quiet", revision], check=True)
    return subprocess.run(["git", "-C", str(into), "rev-parse", "--short", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def lit(lines: list[str]) -> bool:
    return any("node-" in line and any(c != DARK_CELL and any(c) for c in lit_colors(line)) for line in lines)


UNSET: list[str] = []  # --unset: variables the runs do without


def measure(label: str, workdir: Path, revision: str, *, timeout: float, env: dict[str, str]) -> Run:
    run = Run(label, revision)
    started = time.monotonic()
    term = Tmux(["make", "demo", "ARGS=--console-port 0"], width=120, height=40, cwd=workdir, env=env, unset=UNSET)
    try:
        while time.monotonic() - started < timeout and run.first_light is None:
            styled = term.styled()
            elapsed = time.monotonic() - started
            if run.installed is None and any("-m demo" in line for line in styled):
                run.installed = elapsed
            if lit(styled):
                run.first_light = elapsed
                run.installed = run.installed or elapsed
            if term.exit_status is not None:
                break
            time.sleep(POLL_SECONDS)
        term.keys("C-c")
        term.wait_ended(60)
        run.restored = not term.alternate_on
    finally:
        term.kill()
    return run


def measure_revision(revision: str | None, *, label: str, warm: bool, timeout: float,
                     env: dict[str, str]) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="first-light-") as tmp:
        workdir = Path(tmp) / "clone"
        sha = clone(revision, workdir)
        runs = [measure(f"{label}, fresh clone", workdir, sha, timeout=timeout, env=env)]
        if warm:
            runs.append(measure(f"{label}, second run", workdir, sha, timeout=timeout, env=env))
        return runs


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_light", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also measure this revision, first, in the same run")
    parser.add_argument("--no-warm", dest="warm", action="store_false", help="no second run in the same clone")
    parser.add_argument("--cold-uv-cache", action="store_true", help="also HEAD with an empty uv cache")
    parser.add_argument("--rounds", type=int, default=1, help="fresh clones per revision (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a run after this (s)")
    parser.add_argument("--unset", action="append", default=[], metavar="VAR",
                        help="run make without this environment variable (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = parser.parse_args(argv)
    UNSET[:] = args.unset
    shown = {name: os.environ[name] for name in ("PYTHONDONTWRITEBYTECODE",) if name in os.environ}
    print(f"environment: {shown or 'no PYTHONDONTWRITEBYTECODE'}; unset for the runs: {args.unset or 'nothing'}")
    load_before = os.getloadavg()[0]
    runs: list[Run] = []
    for _ in range(args.rounds):
        if args.baseline:
            runs += measure_revision(args.baseline, label="baseline", warm=args.warm, timeout=args.timeout, env={})
        runs += measure_revision(None, label="HEAD", warm=args.warm, timeout=args.timeout, env={})
    if args.cold_uv_cache:
        with tempfile.TemporaryDirectory(prefix="uv-cache-") as cache:
            runs += measure_revision(None, label="HEAD, empty uv cache", warm=False, timeout=args.timeout,
                                     env={"UV_CACHE_DIR": cache})
    if args.json:
        print(json.dumps([asdict(r) for r in runs], indent=2))
        return 0
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'run':<34} {'rev':<9} {'installed':>10} {'first light':>12}  restored")
    for r in runs:
        print(f"{r.label:<34} {r.revision:<9} {seconds(r.installed):>10} {seconds(r.first_light):>12}  {r.restored}")
    summary(runs)
    return 0 if all(r.first_light for r in runs) else 1


def summary(runs: list[Run]) -> None:
    """Median and best first light per label, and HEAD's median over the baseline's."""
    medians = {}
    for label in dict.fromkeys(r.label for r in runs):
        lights = [r.first_light for r in runs if r.label == label and r.first_light is not None]
        if len(lights) > 1:
            print(f"{label}: first light median {statistics.median(lights):.1f} s, best {min(lights):.1f} s")
        if lights:
            medians[label] = statistics.median(lights)
    head, base = medians.get("HEAD, fresh clone"), medians.get("baseline, fresh clone")
    if head and base:
        print(f"HEAD ÷ baseline (first light, fresh clone, medians): {head / base:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
