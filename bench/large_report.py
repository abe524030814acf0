"""The large-cluster bench's figures, and how they are printed: a text table and Markdown.

Pure: dataclasses of numbers in, strings out. ``sections`` is the one list of
(section, rows) both renderings use, so the terminal and ``bench/results-large.md``
never disagree; the walls (one column per wall measured: the DOM wall, the canvas
wall) and the per-process memory and CPU figures are tables of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
class WallFigures:
    """One wall's rollout: its page, its frames, and what the browser and console spent."""

    title: str
    path: str
    frames: FrameFigures
    rollout_s: float  # apply → last API write
    wall_lag_s: float  # last API write → this wall settled
    complete: bool
    browser_cores: float
    console_cores: float


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
    walls: list[WallFigures]
    processes: list[ProcessFigures]
    side: SideFigures | None = None
    first_wall: str = ""  # the wall of the first rollout, whose tables these are


def _n(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def sections(r: Report) -> list[tuple[str, Rows]]:
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


def wall_rows(r: Report) -> list[tuple[str, ...]]:
    """One row per figure, one column per wall: the first row is the header."""
    walls = r.walls

    def row(label: str, value: Callable[[WallFigures], str]) -> tuple[str, ...]:
        return (label, *(value(w) for w in walls))

    return [
        ("", *(w.title for w in walls)),
        row("page", lambda w: w.path),
        row("finished (cluster complete and wall settled)", lambda w: "yes" if w.complete else "NO"),
        row("rollout: apply → last API write", lambda w: f"{_n(w.rollout_s)} s"),
        row("wall settled after the last API write", lambda w: f"{_n(w.wall_lag_s, 2)} s"),
        row("frames/s idle (baseline)", lambda w: _n(w.frames.fps_idle)),
        row("frames/s during the rollout, mean", lambda w: _n(w.frames.fps_mean)),
        row("frames/s, worst second / p10", lambda w: f"{w.frames.fps_min} / {_n(w.frames.fps_p10)}"),
        row("frames/s rollout ÷ idle", lambda w: _n(w.frames.fps_mean / w.frames.fps_idle if w.frames.fps_idle
                                                      else None, 2)),
        row("wall changes/s (frames that changed it), mean / max",
            lambda w: f"{_n(w.frames.wall_fps_mean)} / {w.frames.wall_fps_max}"),
        row("renderer main thread busy, idle / rollout",
            lambda w: f"{w.frames.busy_idle:.0%} / {w.frames.busy_rollout:.0%}"),
        row("main thread in tasks (rollout)", lambda w: f"{_n(w.frames.task_s)} s"),
        row("… of which script / style / layout",
            lambda w: f"{_n(w.frames.script_s)} / {_n(w.frames.style_s)} / {_n(w.frames.layout_s)} s"),
        row("DOM mutation records on the wall", lambda w: f"{w.frames.records:,}"),
        row("longest frame gap", lambda w: f"{_n(w.frames.max_gap_ms, 0)} ms"),
        row("time in long tasks (> 50 ms)",
            lambda w: "not reported" if w.frames.longtask_ms is None else f"{_n(w.frames.longtask_ms, 0)} ms"),
        row("JS heap before / after", lambda w: f"{_n(w.frames.heap_before)} / {_n(w.frames.heap_after)} MiB"),
        row("DOM elements after", lambda w: f"{w.frames.elements:,}"),
        row("chromium cores (all processes) / console cores", lambda w: f"{_n(w.browser_cores, 2)} / "
                                                                         f"{_n(w.console_cores, 2)}"),
    ]  # fmt: skip


PROCESS_HEADER = ("process", "RSS idle MiB", "RSS peak MiB", "RSS after MiB", "cores idle", "cores rollout")


def process_rows(r: Report) -> list[tuple[str, ...]]:
    return [(p.name, _n(p.rss_idle), _n(p.rss_peak), _n(p.rss_after), _n(p.cores_idle, 2), _n(p.cores_rollout, 2))
            for p in r.processes]  # fmt: skip


def _aligned(table: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  " + "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths,
            strict=True))) for row in table]  # fmt: skip


def as_text(r: Report) -> str:
    lines: list[str] = []
    for title, rows in sections(r):
        lines.append(f"{title}:")
        width = max(len(label) for label, _ in rows)
        lines += [f"  {label:{width}s}  {value}" for label, value in rows]
    lines.append("browser (the walls, one rollout each):")
    lines += _aligned(wall_rows(r))
    lines.append(f"processes (first rollout: {r.first_wall}):")
    lines += _aligned([PROCESS_HEADER, *process_rows(r)])
    return "\n".join(lines)


def _markdown_table(table: list[tuple[str, ...]]) -> list[str]:
    return ["| " + " | ".join(table[0]) + " |", "|---|" + "---:|" * (len(table[0]) - 1),
            *("| " + " | ".join(row) + " |" for row in table[1:])]  # fmt: skip


def as_markdown(r: Report) -> str:
    lines = ["## Large cluster", "", "Generated by `python -m bench.large_cluster`.", ""]
    for title, rows in sections(r):
        lines += [f"### {title.capitalize()}", "", "| | |", "|---|---|"]
        lines += [f"| {label} | {value} |" for label, value in rows]
        lines.append("")
    lines += ["### Browser (the walls, one rollout each)", "", *_markdown_table(wall_rows(r)), ""]
    lines += [f"### Memory and CPU per process (first rollout: {r.first_wall})", "",
              *_markdown_table([PROCESS_HEADER, *process_rows(r)])]  # fmt: skip
    return "\n".join(lines) + "\n"
