"""A scripted :class:`watcher.sources.PodSource` on a fake clock: the loop's tests need no socket and no real second.

A script is the list of what the API server does on each call, in call order:
:class:`Listed` (or an exception) answers a ``list``, :class:`Watched` (or an exception,
raised when the watch opens) answers a ``watch``. A ``Watched`` stream yields its items
in order: watch events ``(type, object)``, :class:`Wait` (time passes on the fake
clock), :class:`Stall` (nothing arrives: the stream breaks with ``Stalled`` once the
loop's current stall timeout has passed), then ends with ``end`` (an exception) or
cleanly. When the script is used up the source sets ``stop`` and breaks, so ``run()``
returns — or, without a ``stop`` (a whole watcher in threads), it blocks as a quiet
watch does until :meth:`ScriptedSource.close`.

Everything the loop asked for is in :attr:`ScriptedSource.calls`, and every wait it
made (``pause``) in :attr:`Run.pauses`, each with the fake time at which it happened and
the scope's health then.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

from tests.support.clocks import FakeClock
from watcher.backoff import Backoff
from watcher.errors import Stalled, StreamBroken
from watcher.sources import PodQuery, RawObject, WatchEvent
from watcher.watching import ListWatcher, Sink, StallPolicy

QUERY = PodQuery(namespace=None, label_selector="blinkt=show", field_selector="spec.nodeName=node-1")


@dataclass(frozen=True)
class Listed:
    pods: list[RawObject]
    rv: str


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Stall:
    """The connection stays open and silent."""


Item = WatchEvent | Wait | Stall


@dataclass(frozen=True)
class Watched:
    items: list[Item] = field(default_factory=list)
    end: Exception | None = None


Step = Listed | Watched | Exception


def event(kind: str, name: str, rv: str, **labels: str) -> WatchEvent:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": rv,
                            "labels": {"blinkt": "show", **labels}}
    return kind, {"metadata": meta, "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}}


def bookmark(rv: str) -> WatchEvent:
    return "BOOKMARK", {"metadata": {"resourceVersion": rv}}


@dataclass
class Call:
    kind: str
    rv: str
    at: float
    timeout_seconds: int | None = None
    stall_after: float | None = None


class ScriptedStream:
    def __init__(self, watched: Watched, clock: FakeClock, source: ScriptedSource, stall_after: float) -> None:
        self._watched = watched
        self._clock = clock
        self._source = source
        self.limit = stall_after

    def stall_after(self, seconds: float) -> None:
        self.limit = seconds
        self._source.tightened.append((self._clock.now, seconds))

    def __iter__(self) -> Iterator[WatchEvent]:
        for item in self._watched.items:
            if isinstance(item, Wait):
                self._clock.advance(item.seconds)
            elif isinstance(item, Stall):
                self._clock.advance(self.limit)
                raise Stalled(f"no event or bookmark for {self.limit:g} s")
            else:
                yield item
        if self._watched.end is not None:
            raise self._watched.end


class ScriptedSource:
    """``lenient``: a step answers whichever call comes (a ``Watched`` answers a list as an empty
    list, a ``Listed`` answers a watch as an empty stream); otherwise a call the script did not
    expect is noted in :attr:`mismatches` (the loop would swallow an exception) and ends the run."""

    def __init__(self, script: Sequence[Step], clock: FakeClock, stop: threading.Event | None = None, *,
                 lenient: bool = False) -> None:
        self._script = list(script)
        self._clock = clock
        self._stop = stop
        self._lenient = lenient
        self._closed = threading.Event()
        self.calls: list[Call] = []
        self.tightened: list[tuple[float, float]] = []
        self.mismatches: list[str] = []

    def list(self, query: PodQuery, *, resource_version: str) -> tuple[list[RawObject], str]:
        self.calls.append(Call("list", resource_version, self._clock.now))
        step = self._next("list")
        if isinstance(step, Watched) and self._lenient:
            step = Listed([], "10")
        if not isinstance(step, Listed):
            self._mismatch(f"the loop listed where the script has {step!r}")
        return step.pods, step.rv

    @contextmanager
    def watch(self, query: PodQuery, *, resource_version: str, timeout_seconds: int,
              stall_after: float) -> Iterator[ScriptedStream]:
        self.calls.append(Call("watch", resource_version, self._clock.now, timeout_seconds, stall_after))
        step = self._next("watch")
        if isinstance(step, Listed) and self._lenient:
            step = Watched()
        if not isinstance(step, Watched):
            self._mismatch(f"the loop watched where the script has {step!r}")
        yield ScriptedStream(step, self._clock, self, stall_after)

    def _mismatch(self, what: str) -> NoReturn:
        self.mismatches.append(what)
        self._script.clear()
        raise StreamBroken(what)

    def close(self) -> None:
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _next(self, kind: str) -> Step:
        if not self._script:
            if self._stop is None:
                self._closed.wait()
            else:
                self._stop.set()
            raise StreamBroken(f"script ended ({kind})")
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


@dataclass
class RecordingSink:
    replaced_with: list[list[RawObject]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    fail_on: set[str] = field(default_factory=set)

    def replaced(self, namespace: str | None, pods: list[RawObject]) -> None:
        self.replaced_with.append(pods)

    def event(self, event_type: str, pod: RawObject) -> None:
        name = pod["metadata"]["name"]
        if name in self.fail_on:
            raise RuntimeError(f"sink bug on {name}")
        self.events.append((event_type, name))


@dataclass(frozen=True)
class Pause:
    at: float
    seconds: float
    unhealthy_for: float  # the scope's health when the loop began to wait


@dataclass
class Run:
    watcher: ListWatcher
    source: ScriptedSource
    sink: RecordingSink
    clock: FakeClock
    pauses: list[Pause]

    @property
    def delays(self) -> list[float]:
        return [p.seconds for p in self.pauses]


def run(script: Sequence[Step], *, sink: Sink | None = None, stall: StallPolicy | None = None, seed: int = 0,
        lenient: bool = False, idle_before: float = 0.0) -> Run:
    """Run a ListWatcher over ``script`` to its end, on a fake clock; the script must fit the calls.

    ``idle_before``: seconds between making the loop and running it (a watcher waiting for its broker)."""
    clock = FakeClock()
    stop = threading.Event()
    source = ScriptedSource(script, clock, stop, lenient=lenient)
    pauses: list[Pause] = []

    def pause(seconds: float) -> None:
        pauses.append(Pause(clock.now, seconds, watcher.health.unhealthy_for(clock.now)))
        clock.advance(seconds)

    recording = sink if isinstance(sink, RecordingSink) else RecordingSink()
    watcher = ListWatcher(source=source, query=QUERY, sink=sink or recording, stop=stop, clock=clock, pause=pause,
                          stall=stall or StallPolicy(), rng=random.Random(seed),
                          backoff=Backoff(rng=random.Random(seed)))
    clock.advance(idle_before)
    watcher.run()
    assert not source.mismatches, source.mismatches
    return Run(watcher, source, recording, clock, pauses)
