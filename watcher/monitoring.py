"""The watcher's probes and metrics (``bus.health.Monitored``), read from the books it keeps.

Nothing is counted twice: every figure comes from ``WatcherStats`` and the malformed-pod
log of the service, ``WatchStats`` and ``ScopeHealth`` of each list/watch loop, and the
broker connection's own connect count, at the moment of the scrape.

- alive (``/healthz``): start-up did not fail, and every thread it started still runs.
- ready (``/readyz``): connected to the broker, every scope has listed and is watching
  (healthy now, see ``watching.ScopeHealth``), and the first snapshots are out; a
  degraded node is not ready.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bus.health import Health, Metric
from bus.messages import DEGRADED
from watcher.errors import KINDS

if TYPE_CHECKING:
    from watcher.service import Watcher

NODE_CHECK = "node_check_failed"
"""The kind the service's rate-limited log counts when the API cannot say which nodes it has."""

PREFIX = "shinealight_watcher_"


def health_of(watcher: Watcher) -> Health:
    not_live = {t.name: "thread ended" for t in watcher.threads if t.name != "start" and not t.is_alive()}
    if watcher.start_error:
        not_live["start"] = watcher.start_error
    return Health(live=not not_live, not_live=not_live, not_ready=dict(_not_ready(watcher)))


def _not_ready(watcher: Watcher) -> Iterator[tuple[str, str]]:
    if not watcher.connection.connected:
        yield "broker", f"not connected to {watcher.config.broker.redacted()}"
    now = watcher.clock()
    for lw in watcher.list_watchers:
        spell = lw.health.unhealthy_for(now)
        if not lw.synced.is_set():
            yield f"pods in {lw.query.scope}", f"not listed yet ({lw.health.reason})"
        elif spell > 0:
            yield f"pods in {lw.query.scope}", f"not watching for {spell:.0f} s ({lw.health.reason})"
    if all(lw.synced.is_set() for lw in watcher.list_watchers) and not watcher.wait_synced(0):
        yield "snapshots", "listed, first snapshots not published yet"


def metrics_of(watcher: Watcher) -> list[Metric]:
    lws = watcher.list_watchers
    now = watcher.clock()
    errors: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
    for lw in lws:
        errors.update(lw.stats.errors)
    heard = min((lw.health.last_heard or watcher.started for lw in lws), default=watcher.started)
    api_up = all(lw.synced.is_set() and lw.health.unhealthy_for(now) == 0 for lw in lws)

    def counter(name: str, help: str, value: float) -> Metric:
        return Metric.single(PREFIX + name, help, "counter", value)

    def gauge(name: str, help: str, value: float) -> Metric:
        return Metric.single(PREFIX + name, help, "gauge", value)

    return [
        counter("events_published", "pod events published to the bus", watcher.stats.published_events),
        counter("snapshots_published", "retained node snapshots published", watcher.stats.published_snapshots),
        counter("watch_events", "watch events received from the API", sum(lw.stats.events for lw in lws)),
        counter("bookmarks", "watch bookmarks received from the API", sum(lw.stats.bookmarks for lw in lws)),
        counter("lists", "pod lists read from the API (the first and every relist)", sum(lw.stats.lists for lw in lws)),
        counter("relists", "lists after the first (410 Gone, or after an internal error)",
                sum(lw.stats.relists for lw in lws)),
        counter("watch_restarts", "watch streams opened after the first", sum(lw.stats.watch_restarts for lw in lws)),
        Metric.by_label(PREFIX + "api_errors", "failed list/watch attempts by kind (internal: a bug of ours)",
                        "counter", "kind", errors),
        counter("malformed_pods", "pod objects skipped because they could not be read", watcher.malformed_pods),
        counter("internal_errors", "unexpected errors while publishing snapshots or checking nodes",
                watcher.stats.internal_errors),
        counter("nodes_cleared", "nodes that left the cluster, whose topics were cleared", watcher.stats.nodes_cleared),
        counter("node_check_errors", "checks for nodes that left that the API could not answer",
                watcher.bad_input.counts[NODE_CHECK]),
        counter("broker_reconnects", "connections to the broker after the first",
                max(0, watcher.connection.connects - 1)),
        gauge("broker_connected", "1 while connected to the broker", float(watcher.connection.connected)),
        gauge("api_connected", "1 while every scope is listed and watching", float(api_up)),
        gauge("degraded", "1 while the node status says degraded", float(watcher.status == DEGRADED)),
        gauge("last_event_age_seconds", "seconds since the API last sent a list, event or bookmark (stalest scope)",
              now - heard),
        gauge("stall_timeout_seconds", "silence after which a watch counts as stalled (largest over scopes)",
              max((lw.stall.timeout() for lw in lws), default=0.0)),
    ]
