"""``minihelm``: ``helm lint`` and ``helm template`` without the helm binary.

The charts are checked by the real Helm (v4, the official Go SDK) through the PyPI
package ``helm-python-sdk``, which binds ``libhelm_c`` with ctypes: no Go toolchain, no
download outside PyPI, and it renders offline (``lookup`` returns nothing, as in
``helm template``). ``helm/tools/ensure-helm`` installs it into ``helm/.venv`` and
writes a ``minihelm`` launcher there; this module is that launcher's program.

Only what the tests and a chart author need, with the helm CLI's spelling::

    minihelm lint CHART [-f values.yaml] [--set k=v] [--set-string k=v] [--strict]
    minihelm template NAME CHART [-n NS] [-f values.yaml] [--set k=v] [--show-notes]

Values are layered like helm's: ``-f`` files in order, then ``--set``/``--set-string``
in order, maps merged deeply, everything else replaced. Exit status: 0 ok, 1 lint
errors or a render failure (message on stderr), 2 bad usage.

(helm-sdkpy, the other PyPI binding, was tried first: it lints only a chart's default
values and cannot render, so it cannot check value combinations.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import helm_python  # type: ignore[import-not-found,unused-ignore]

SEVERITIES = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's user-values merge: maps deeply, everything else replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def collect_values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in args.values:
        loaded = helm_python.values_from_yaml(Path(path).read_text())
        values = merge(values, loaded)
    for kind, expression in _runs(args.sets):
        parse = helm_python.parse_set_string if kind == "set" else helm_python.parse_set_string_values
        values = merge(values, parse(expression))
    return values


def _runs(sets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join consecutive expressions of one kind with commas.

    helm parses every --set into one shared map, so ``--set l[0].a=1 --set l[0].b=2``
    builds a single list entry; parsing them apart and merging would replace the list.
    One comma-joined expression is exactly what helm would do.
    """
    runs: list[tuple[str, str]] = []
    for kind, expression in sets:
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, f"{runs[-1][1]},{expression}")
        else:
            runs.append((kind, expression))
    return runs


def run_lint(args: argparse.Namespace) -> int:
    report = helm_python.lint(args.chart, collect_values(args), strict=args.strict)
    failing = {3, 2} if args.strict else {3}
    worst = 0
    for message in report.get("messages", []):
        severity = int(message.get("severity", 0))
        print(f"[{SEVERITIES.get(severity, severity)}] {message.get('path')}: {message.get('error')}")
        worst = max(worst, severity)
    for error in report.get("errors", []) or []:
        print(f"[ERROR] {error}")
        worst = 3
    print(f"{report.get('total_charts_linted', 0)} chart(s) linted, "
          f"{'failed' if worst in failing else 'no failures'}")
    return 1 if worst in failing else 0


def run_template(args: argparse.Namespace) -> int:
    chart = helm_python.Chart.load(args.chart)
    rendered = chart.render(collect_values(args), name=args.name, namespace=args.namespace,
                            is_install=True)
    for path in sorted(rendered):
        body = rendered[path].strip()
        is_notes = path.endswith("NOTES.txt")
        if not body or (is_notes and not args.show_notes):
            continue
        print("---" if not is_notes else "--- # NOTES")
        print(f"# Source: {path}")
        print(body)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minihelm", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("lint", help="helm lint with values")
    lint.add_argument("chart")
    lint.add_argument("--strict", action="store_true", help="warnings fail too")
    template = commands.add_parser("template", help="render the chart offline")
    template.add_argument("name")
    template.add_argument("chart")
    template.add_argument("-n", "--namespace", default="default")
    template.add_argument("--show-notes", action="store_true", help="also print NOTES.txt")
    for sub in (lint, template):
        sub.add_argument("-f", "--values", action="append", default=[], metavar="FILE")
        sub.add_argument("--set", action=_SetAction, dest="sets", default=[], metavar="K=V")
        sub.add_argument("--set-string", action=_SetAction, dest="sets", default=[], metavar="K=V")
    return parser


class _SetAction(argparse.Action):
    """Keeps --set and --set-string in one list, in command-line order."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        kind = "set-string" if option_string == "--set-string" else "set"
        getattr(namespace, self.dest).append((kind, values))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_lint(args) if args.command == "lint" else run_template(args)
    except (helm_python.HelmError, OSError, json.JSONDecodeError) as e:
        print(f"minihelm {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
