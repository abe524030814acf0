"""Server-side printing for kubectl: the pod Table and its ages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sim.pods import make_pod, mark_terminating
from sim.tables import human_duration, pod_table, table_events, wants_table

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "0s"),
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (200, "3m20s"),
        (300, "5m"),
        (42 * 60, "42m"),
        (5 * 3600 + 600, "5h10m"),
        (5 * 3600, "5h"),
        (30 * 3600, "30h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (3 * 86400, "3d"),
        (200 * 86400, "200d"),
        (3 * 365 * 86400 + 20 * 86400, "3y20d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_kubectl_accept_header_asks_for_a_table() -> None:
    assert wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert not wants_table("application/json")
    assert not wants_table("")


def test_pod_table_rows_carry_the_wide_columns_and_the_metadata() -> None:
    running = make_pod("web-1", "prod", node="node-1", pod_ip="10.0.0.5")
    running["metadata"]["creationTimestamp"] = "2026-11-26T11:59:15Z"
    pending = make_pod("web-2", phase="Pending", ready=False)
    leaving = mark_terminating(make_pod("web-3", node="node-2"), NOW)
    table = pod_table([running, pending, leaving], resource_version=42, now=NOW)
    assert table["metadata"] == {"resourceVersion": "42"}
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    cells = [row["cells"] for row in table["rows"]]
    assert cells[0] == ["web-1", "1/1", "Running", "0", "45s", "10.0.0.5", "node-1", "<none>", "<none>"]
    assert cells[1][:3] == ["web-2", "0/1", "ContainerCreating"]
    assert cells[1][4:7] == ["<unknown>", "<none>", "<none>"]
    assert cells[2][2] == "Terminating"
    assert table["rows"][0]["object"]["metadata"]["namespace"] == "prod"


def test_watch_events_become_one_row_tables_with_columns_only_first() -> None:
    pod = {"kind": "Pod", "apiVersion": "v1", **make_pod("web-1", node="node-1")}
    pod["metadata"]["resourceVersion"] = "7"
    bookmark = {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "8"}}}
    events = list(
        table_events([{"type": "ADDED", "object": pod}, {"type": "DELETED", "object": pod}, bookmark], now=lambda: NOW)
    )
    assert [e["type"] for e in events] == ["ADDED", "DELETED", "BOOKMARK"]
    assert [len(e["object"].get("columnDefinitions", [])) for e in events] == [9, 0, 0]
    assert events[0]["object"]["rows"][0]["cells"][:3] == ["web-1", "1/1", "Running"]
    assert events[0]["object"]["metadata"] == {"resourceVersion": "7"}
    assert events[2] == bookmark
