"""``python -m demo.capturing``: record the bus captures of tests/captures/."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from bus.arguments import UsageParser, positive
from demo.capturing.rig import CaptureFailed
from demo.capturing.scenarios import SCENARIOS, describe, record


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="python -m demo.capturing",
        description="Record the bus captures of tests/captures/ from the simulated cluster.",
        epilog="scenarios: " + "; ".join(f"{s.name}: {s.summary}" for s in SCENARIOS.values()),
    )
    parser.add_argument("--out-dir", type=Path, required=True, help="where to write <scenario>.jsonl")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), metavar="NAME",
                        help=f"make only this capture (repeatable; one of {', '.join(SCENARIOS)})")
    parser.add_argument("--speed-up", type=positive(), default=1.0,
                        help="run every scenario this much faster (a quick check; default: %(default)s)")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = args.only or list(SCENARIOS)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            out = args.out_dir / f"{name}.jsonl"
            with tempfile.TemporaryDirectory(prefix=f"capturing-{name}-") as workdir:
                record(SCENARIOS[name], out, workdir=Path(workdir), speed_up=args.speed_up)
            print(describe(out), flush=True)
    except (CaptureFailed, OSError) as e:
        print(f"python -m demo.capturing: {e}", file=sys.stderr)
        return 1
    return 0
