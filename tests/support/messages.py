"""Builders of bus messages for the subscriber tests (node ``n1``, namespace ``default``, uid ``uid-<name>``)."""

from __future__ import annotations

from bus.messages import Action, NodeSnapshot, PodEntry, PodEvent, PodState


def entry(name: str, color: str | None = None, state: PodState | None = None) -> PodEntry:
    return PodEntry(pod=name, namespace="default", uid=f"uid-{name}", color=color, state=state)


def event(action: str, name: str, seq: int | None = None, *, color: str | None = None,
          state: PodState | None = None, epoch: str | None = None) -> PodEvent:
    return PodEvent(action=Action(action), pod=name, namespace="default", uid=f"uid-{name}", color=color,
                    state=state, seq=seq, epoch=epoch, node="n1")


def snapshot(seq: int, *names: str, epoch: str | None = None, colors: dict[str, str] | None = None) -> NodeSnapshot:
    colors = colors or {}
    return NodeSnapshot(node="n1", seq=seq, epoch=epoch, pods=tuple(entry(n, colors.get(n)) for n in names))
