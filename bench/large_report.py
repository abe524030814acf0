"""The large-cluster bench's figures, and how they are printed: a text table and Markdown.

Pure: dataclasses of numbers in, strings out. ``sections`` is the one list of
(section, rows) both renderings use, so the terminal and ``bench/results-large.md``
never disagree; the per-process memory and CPU figures are a table of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.large_probes import Rate

Rows = list[tuple[str, str]]


@dataclass(frozen=True)
class ProcessFigures:
    name: str
    rss_idle: float  # MiB, 3000 pods shown, nothing moving
    rss_peak: float  # MiB, highest sample during the rollout
    rss_after: float  # MiB, a moment after the wall settled
    cores_idle: float  # CPU seconds per second while idle
    cores_rollout: float  # CPU seconds per second from the apply to the settled wall


@dataclass(frozen=True)
class FrameFigures:
    fps_idle: float
    fps_mean: float
    fps_min: int  # the worst whole second
    fps_p10: float
    wall_fps_mean: float  # frames in which the wall's DOM had changed
    wall_fps_max: int
    busy_idle: float  # share of time the renderer's main thread ran tasks, at rest
    busy_rollout: float
    task_s: float  # main-thread seconds in tasks during the rollout
    script_s: float  # of which in script
    style_s: float  # in style recalculation
    layout_s: float  # in layout
    records: int  # DOM mutation records during the rollout
    max_gap_ms: float  # longest time between two frames
    longtask_ms: float | None  # None: the browser does not report long tasks
    heap_before: float | None  # MiB
    heap_after: float | None
    elements: int


@dataclass(frozen=True)
class SideFigures:
    """Per-node watchers run next to the all-nodes one, for some of the nodes."""

    watchers: int
    events: int  # what they published during the rollout
    main_events_same_nodes: int  # what the all-nodes watcher published for those nodes
    rss_each: float  # MiB, mean after the rollout
    cores_total: float  # all of them, during the rollout


@dataclass(frozen=True)
class Report:
    machine: Rows
    settings: Rows
    complete: bool
    spread: tuple[int, int]
    cold_start_s: float
    rollout_s: float
    bus_lag_s: float
    wall_s: float
    wall_lag_s: float
    store: Rate
    bus: Rate
    snapshots: Rate
    bus_bytes: tuple[int, int]  # (pod events, snapshots) payload bytes during the rollout
    frames: FrameFigures
    processes: list[ProcessFigures]
    side: SideFigures | None = None


def _n(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def sections(r: Report) -> list[tuple[str, Rows]]:
    f = r.frames
    out = [
        ("machine", r.machine),
        ("settings", r.settings),
        ("rollout", [
            ("finished (cluster complete and wall settled)", "yes" if r.complete else "NO (timed out)"),
            ("pods per node, fewest / most", f"{r.spread[0]} / {r.spread[1]}"),
            ("cold start: watcher started → full wall", f"{_n(r.cold_start_s)} s"),
            ("rollout: apply → last API write", f"{_n(r.rollout_s)} s"),
            ("last bus event after the last API write", f"{_n(r.bus_lag_s, 2)} s"),
            ("wall settled after the apply", f"{_n(r.wall_s)} s"),
            ("wall settled after the last API write", f"{_n(r.wall_lag_s, 2)} s"),
        ]),
        ("events (apply → wall settled)", [
            ("API writes (watch events), total / mean/s / peak/s", _rate(r.store)),
            ("bus pod events, total / mean/s / peak/s", _rate(r.bus)),
            ("bus snapshots, total / mean/s / peak/s", _rate(r.snapshots)),
            ("bus events per API write", _n(r.bus.total / r.store.total if r.store.total else None, 3)),
            ("bus payload, events / snapshots", f"{_kib(r.bus_bytes[0], r.wall_s)} / {_kib(r.bus_bytes[1], r.wall_s)}"),
        ]),
        ("browser (the wall)", [
            ("frames/s idle (baseline)", _n(f.fps_idle)),
            ("frames/s during the rollout, mean / worst second / p10",
             f"{_n(f.fps_mean)} / {f.fps_min} / {_n(f.fps_p10)}"),
            ("frames/s rollout ÷ idle", _n(f.fps_mean / f.fps_idle if f.fps_idle else None, 2)),
            ("wall changes/s (frames with DOM changes), mean / max", f"{_n(f.wall_fps_mean)} / {f.wall_fps_max}"),
            ("renderer main thread busy, idle / rollout", f"{f.busy_idle:.0%} / {f.busy_rollout:.0%}"),
            ("main thread in tasks (rollout), of which script / style / layout",
             f"{_n(f.task_s)} s: {_n(f.script_s)} / {_n(f.style_s)} / {_n(f.layout_s)} s"),
            ("DOM mutation records", f"{f.records:,}"),
            ("longest frame gap", f"{_n(f.max_gap_ms, 0)} ms"),
            ("time in long tasks (> 50 ms)", "not reported" if f.longtask_ms is None else f"{_n(f.longtask_ms, 0)} ms"),
            ("JS heap before / after", f"{_n(f.heap_before)} / {_n(f.heap_after)} MiB"),
            ("DOM elements after", f"{f.elements:,}"),
        ]),
    ]
    if r.side is not None:
        s = r.side
        out.append((f"side: {s.watchers} per-node watchers (their nodes only)", [
            ("events they published / the all-nodes watcher, same nodes",
             f"{s.events:,} / {s.main_events_same_nodes:,}"),
            ("RSS per watcher", f"{_n(s.rss_each)} MiB"),
            ("CPU, all of them together", f"{_n(s.cores_total, 2)} cores"),
        ]))  # fmt: skip
    return out


def _kib(size: int, seconds: float) -> str:
    return f"{size / 2**20:,.1f} MiB ({size / 1024 / seconds:,.0f} KiB/s)" if seconds > 0 else "n/a"


def _rate(rate: Rate) -> str:
    return f"{rate.total:,} / {_n(rate.mean)} / {rate.peak:,}"


PROCESS_HEADER = ("process", "RSS idle MiB", "RSS peak MiB", "RSS after MiB", "cores idle", "cores rollout")


def process_rows(r: Report) -> list[tuple[str, ...]]:
    return [(p.name, _n(p.rss_idle), _n(p.rss_peak), _n(p.rss_after), _n(p.cores_idle, 2), _n(p.cores_rollout, 2))
            for p in r.processes]  # fmt: skip


def as_text(r: Report) -> str:
    lines: list[str] = []
    for title, rows in sections(r):
        lines.append(f"{title}:")
        width = max(len(label) for label, _ in rows)
        lines += [f"  {label:{width}s}  {value}" for label, value in rows]
    lines.append("processes:")
    table = [PROCESS_HEADER, *process_rows(r)]
    widths = [max(len(row[i]) for row in table) for i in range(len(PROCESS_HEADER))]
    for row in table:
        cells = [cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def as_markdown(r: Report) -> str:
    lines = ["## Large cluster", "", "Generated by `python -m bench.large_cluster`.", ""]
    for title, rows in sections(r):
        lines += [f"### {title.capitalize()}", "", "| | |", "|---|---|"]
        lines += [f"| {label} | {value} |" for label, value in rows]
        lines.append("")
    lines += ["### Memory and CPU per process", "", "| " + " | ".join(PROCESS_HEADER) + " |",
              "|---|" + "---:|" * (len(PROCESS_HEADER) - 1)]  # fmt: skip
    lines += ["| " + " | ".join(row) + " |" for row in process_rows(r)]
    return "\n".join(lines) + "\n"
