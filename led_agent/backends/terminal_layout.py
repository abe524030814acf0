"""The terminal view as a pure function: a :class:`View` and a window size in, screen lines out.

Pure: no streams, no signals, no clock of its own (``now`` is passed in, for the paging
of a wall too large for the window). ``terminal.py`` is the thin shell that feeds it and
writes what :func:`paint` returns.

What a screen shows, top to bottom:

1. the latest messages (the demo's lines, log lines), hard-wrapped to the width, as many
   as the rest leaves room for — at least :data:`MIN_MESSAGES` if there are any, so the
   step the demo is at never vanishes behind a large wall;
2. the running plan's progress (:class:`Progress`), if there is one;
3. the nodes, each a name, its LEDs and its pod count (``6 pods, 2 hidden`` when more
   pods than LEDs), wrapped into columns (column by column, like ``ls``);
4. a legend line: what full, dim, pulsing, blinking, red and white LEDs mean.

The nodes take the first *tier* that fits: wide (two characters per LED, counts in
words), compact (one character per LED, ``6 (2 hidden)``), tiny (the pod count alone).
When even the tiny tier needs more lines than the window has, the nodes are shown a page at a time, a
page every :data:`PAGE_SECONDS`, with a line saying which nodes are shown; nothing
is ever drawn beyond the window's last line, so nothing can scroll.

Lines are strings with SGR escapes (24-bit colours for LEDs and legend samples, basic
colours for the progress bar) and never wider than the window. :func:`paint` turns
the previous screen and the new one into the escapes that rewrite only the lines that
changed, each positioned absolutely (``CSI row;1H``) and erased to its end (``CSI K``).
:func:`plain_lines` is the view without a screen, for a pipe: one plain line per node
and one for the progress, which the shell prints when they change.
"""

from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from led_agent.rendering import DARK, PENDING_LEVEL, RED, WHITE, Frame, scale

RESET = "\x1b[0m"
ERASE_TO_END = "\x1b[K"
DARK_RGB = "464646"
SAMPLE = "33cc66"  # the legend's pod colour: not a demo version's, not red, not white
MIN_MESSAGES = 2
MAX_NAME = 24
COLUMN_GAP = 3
PAGE_SECONDS = 5.0
BAR_CELLS = 10

Span = tuple[str, str]  # text, SGR parameters ("" for none)


class Phase(Enum):
    RUNNING = "running"
    PAUSED = "paused"
    ABORTING = "aborting"
    DONE = "done"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True)
class Progress:
    """A plan as the view shows it: ``done`` of ``total`` steps (the bar), step number ``at`` (``step``), a note."""

    plan: str
    done: int
    total: int
    step: str = ""
    at: int = 0  # 1-based; 0: no step started yet
    phase: Phase = Phase.RUNNING
    note: str = ""
    traffic: str = ""  # where the requests go, as the plan last set it


@dataclass(frozen=True)
class NodeRow:
    """A node: its frame, its pod count (None: unknown, none shown) and its watcher's status."""

    name: str
    frame: Frame
    pods: int | None = None
    status: str | None = None

    @property
    def stale(self) -> bool:
        return self.status in ("offline", "degraded")


@dataclass(frozen=True)
class View:
    nodes: tuple[NodeRow, ...]
    leds: int
    messages: tuple[str, ...] = ()
    progress: Progress | None = None


class Counts(Enum):
    WORDS = "words"  # 6 pods, 2 hidden
    SHORT = "short"  # 6 (2 hidden)
    NUMBER = "number"  # 6


@dataclass(frozen=True)
class Tier:
    led_width: int
    counts: Counts


WIDE = Tier(led_width=2, counts=Counts.WORDS)
COMPACT = Tier(led_width=1, counts=Counts.SHORT)
TINY = Tier(led_width=1, counts=Counts.NUMBER)
TIERS = (WIDE, COMPACT, TINY)


# -- spans ------------------------------------------------------------------------------------


def printable(text: str) -> str:
    """``text`` with what would break the geometry replaced by ``?``: control characters
    (an escape in a log line must not reach the terminal) and double-width ones (every
    character here is one cell; the transcript printed on exit keeps the original)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join("?" if unicodedata.category(c).startswith("C") or unicodedata.east_asian_width(c) in "WF" else c
                   for c in text)


def rgb(color: str) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"38;2;{r};{g};{b}"


def styled(spans: Sequence[Span]) -> str:
    return "".join(f"\x1b[{sgr}m{text}{RESET}" if sgr else text for text, sgr in spans)


def width_of(spans: Sequence[Span]) -> int:
    return sum(len(text) for text, _ in spans)


def clip(spans: Sequence[Span], width: int) -> list[Span]:
    """The spans cut to ``width`` characters (the last visible one an ellipsis if cut)."""
    if width_of(spans) <= width:
        return list(spans)
    out: list[Span] = []
    room = max(0, width - 1)
    for text, sgr in spans:
        if room <= 0:
            break
        out.append((text[:room], sgr))
        room -= len(text[:room])
    return [*out, ("…", "")] if width > 0 else []


def rstrip(spans: Sequence[Span]) -> list[Span]:
    """Without the trailing blanks (of the last column's padding): less to write, nothing to see."""
    out = list(spans)
    while out and not out[-1][0].rstrip():
        out.pop()
    if out:
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
    return out


# -- counts -----------------------------------------------------------------------------------


def hidden(row: NodeRow, leds: int) -> int:
    return max(0, (row.pods or 0) - leds)


def count_text(row: NodeRow, leds: int, counts: Counts = Counts.WORDS) -> str:
    """``6 pods, 2 hidden``, ``6 (2 hidden)`` or ``6``; the stale status after it; "" if unknown."""
    if row.pods is None:
        return row.status if row.stale and row.status else ""
    more = hidden(row, leds)
    match counts:
        case Counts.WORDS:
            text = f"{row.pods} pod{'' if row.pods == 1 else 's'}" + (f", {more} hidden" if more else "")
        case Counts.SHORT:
            text = f"{row.pods}" + (f" ({more} hidden)" if more else "")
        case Counts.NUMBER:
            text = f"{row.pods}"
    return f"{text} {row.status}" if row.stale else text


# -- the nodes --------------------------------------------------------------------------------


def led_spans(frame: Frame, led_width: int) -> list[Span]:
    return [("·" * led_width, rgb(DARK_RGB)) if c == DARK else ("█" * led_width, rgb(c)) for c in frame]


def name_of(name: str, width: int) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


@dataclass(frozen=True)
class Cells:
    """The nodes in one tier: a cell per node, all the same width."""

    cells: tuple[tuple[Span, ...], ...]
    width: int

    def columns(self, window: int) -> int:
        return max(1, (window + COLUMN_GAP) // (self.width + COLUMN_GAP))

    def lines(self, window: int) -> int:
        return math.ceil(len(self.cells) / self.columns(window)) if self.cells else 0


def cells(rows: Sequence[NodeRow], leds: int, tier: Tier) -> Cells:
    names = min(MAX_NAME, max((len(r.name) for r in rows), default=0))
    counts = [count_text(r, leds, tier.counts) for r in rows]
    count_width = max((len(c) for c in counts), default=0)
    gap = "  " if tier is WIDE else " "
    built = []
    for row, count in zip(rows, counts, strict=True):
        name: Span = (f"{name_of(printable(row.name), names):<{names}}", "2" if row.stale else "")
        lights = led_spans(row.frame, tier.led_width)
        lights += [(" " * tier.led_width * (leds - len(row.frame)), "")] if len(row.frame) < leds else []
        tail: list[Span] = [(gap + f"{count:<{count_width}}", "2" if row.stale else "")] if count_width else []
        built.append((name, (gap, ""), *lights, *tail))
    width = names + len(gap) + leds * tier.led_width + (len(gap) + count_width if count_width else 0)
    return Cells(tuple(built), width)


def grid(part: Cells, *, window: int, lines: int, first: int = 0) -> list[list[Span]]:
    """``part``'s cells from ``first`` on in at most ``lines`` lines: column by column, as few columns as fit."""
    most = part.columns(window) * lines
    shown = part.cells[first : first + most]
    if not shown:
        return []
    columns = math.ceil(len(shown) / lines)
    used = math.ceil(len(shown) / columns)
    out: list[list[Span]] = [[] for _ in range(used)]
    for k, cell in enumerate(shown):  # every cell is part.width wide: columns line up
        line = out[k % used]
        line.extend([(" " * COLUMN_GAP, "")] if line else [])
        line.extend(cell)
    return out


def node_lines(view: View, *, width: int, lines: int, now: float) -> list[list[Span]]:
    """The nodes in at most ``lines`` lines: the first tier that fits, else the tiny tier's pages."""
    for tier in TIERS:
        part = cells(view.nodes, view.leds, tier)
        if part.lines(width) <= lines and part.width <= width:
            return grid(part, window=width, lines=lines)
    page_lines = max(1, lines - 1)
    per_page = part.columns(width) * page_lines
    pages = math.ceil(len(part.cells) / per_page)
    page = int(now // PAGE_SECONDS) % pages
    first = page * per_page
    last = min(len(part.cells), first + per_page)
    pager = (f"nodes {first + 1}-{last} of {len(part.cells)}, page {page + 1}/{pages}: "
             f"the next in {math.ceil(PAGE_SECONDS - now % PAGE_SECONDS)} s", "2")
    return [*grid(part, window=width, lines=page_lines, first=first), [pager]][:lines]


# -- legend and progress ----------------------------------------------------------------------


LEGENDS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("ready", SAMPLE), ("dim: starting", "dim"), ("pulsing: not ready", "pulse"),
     ("blinking: terminating", "blink"), ("red flash: deleted", RED), ("white: more pods than LEDs", WHITE)),
    (("ready", SAMPLE), ("dim:starting", "dim"), ("pulse:unready", "pulse"), ("blink:ending", "blink"),
     ("red:gone", RED), ("white:more", WHITE)),
    (("ok", SAMPLE), ("dim:new", "dim"), ("pulse:unready", "pulse"), ("blink:ending", "blink"), ("red:gone", RED),
     ("white:more", WHITE)),
)


def sample(kind: str) -> Span:
    if kind == "dim":
        return "██", rgb(scale(SAMPLE, PENDING_LEVEL))
    if kind == "pulse":
        return "██", rgb(scale(SAMPLE, 0.6))
    if kind == "blink":
        return "██", f"5;{rgb(SAMPLE)}"
    return "██", rgb(kind)


def legend(width: int) -> list[Span]:
    """The widest legend that fits (the narrowest, clipped, if none does)."""
    for number, items in enumerate(LEGENDS):
        gap = "  " if number == 0 else " "
        spans: list[Span] = []
        for label, kind in items:
            spans += [(gap, "")] if spans else []
            spans += [sample(kind), ((" " if number == 0 else "") + label, "")]
        if width_of(spans) <= width or number == len(LEGENDS) - 1:
            return clip(spans, width)
    raise AssertionError("unreachable")


BAR_STYLE = {Phase.RUNNING: "36", Phase.PAUSED: "33", Phase.ABORTING: "33", Phase.DONE: "32", Phase.FAILED: "31",
             Phase.ABORTED: "33"}


def progress_text(progress: Progress) -> str:
    at = f"{progress.at}/{progress.total}"
    note = "".join(f" · {text}" for text in (progress.note, progress.traffic) if text)
    match progress.phase:
        case Phase.RUNNING if progress.at == 0:
            return f"{progress.total} step{'' if progress.total == 1 else 's'}{note}"
        case Phase.RUNNING:
            return f"step {at}: {progress.step}{note}"
        case Phase.PAUSED:
            return f"step {at} paused{note}"
        case Phase.ABORTING:
            return f"aborting at step {at}{note}"
        case Phase.DONE:
            return f"done, {progress.done}/{progress.total} steps{note}"
        case Phase.FAILED:
            return f"failed at step {at}: {progress.step}{note}"
        case Phase.ABORTED:
            return f"aborted{note}"


def progress_line(progress: Progress, width: int) -> list[Span]:
    total = max(progress.total, 1)
    filled = round(BAR_CELLS * min(progress.done, total) / total)
    style = BAR_STYLE[progress.phase]
    spans: list[Span] = [(printable(progress.plan), "1"), ("  ", ""), ("█" * filled, style),
                         ("░" * (BAR_CELLS - filled), "2"), ("  ", ""),
                         (printable(progress_text(progress)), style if progress.phase is Phase.FAILED else "")]
    return clip(spans, width)


# -- the screen -------------------------------------------------------------------------------


def message_lines(messages: Sequence[str], width: int) -> list[str]:
    out: list[str] = []
    for message in messages:
        out += textwrap.wrap(printable(message.expandtabs()), width=max(1, width), subsequent_indent="  ",
                             break_on_hyphens=False) or [""]
    return out


def layout(view: View, *, width: int, height: int, now: float) -> list[str]:
    """The screen: exactly ``height`` lines (or fewer), none wider than ``width``."""
    if width < 1 or height < 1:
        return []
    fixed = [progress_line(view.progress, width)] if view.progress else []
    fixed.append(legend(width))
    wrapped = message_lines(view.messages[-height:], width)  # older ones could not be shown anyway
    reserve = min(len(wrapped), MIN_MESSAGES)
    room = max(1, height - len(fixed) - reserve)
    nodes = node_lines(view, width=width, lines=room, now=now) if view.nodes else []
    keep = max(0, height - len(fixed) - len(nodes))
    top = [[(line, "")] for line in wrapped[len(wrapped) - keep :]] if keep else []
    body = [*top, *fixed[:-1], *nodes, fixed[-1]]
    return [styled(rstrip(clip(line, width))) for line in body[-height:]]


def paint(previous: Sequence[str] | None, lines: Sequence[str], *, height: int) -> str:
    """The escapes that turn the screen ``previous`` (None: unknown, clear it) into ``lines``."""
    out = ["\x1b[H\x1b[2J"] if previous is None else []
    before = list(previous or [])
    for row in range(height):
        new = lines[row] if row < len(lines) else ""
        old = before[row] if row < len(before) else ""
        if new != old:
            out.append(f"\x1b[{row + 1};1H{new}{RESET}{ERASE_TO_END}")
    return "".join(out)


def plain_lines(view: View) -> dict[str, str]:
    """The view without a screen: one line per node, and one for the plan; printed when they change."""
    lines = {}
    if view.progress is not None:
        lines[""] = f"{view.progress.plan}: {progress_text(view.progress)}"
    for row in view.nodes:
        count = count_text(row, view.leds)
        if not count or row.pods is None:
            lit = sum(1 for c in row.frame if c != DARK)
            count = f"{lit} of {view.leds} LEDs lit" + (f" {row.status}" if row.stale else "")
        lines[row.name] = f"{row.name}: {count}"
    return lines
