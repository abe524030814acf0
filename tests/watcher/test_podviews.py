import pytest

from bus.messages import PodState
from watcher.podviews import MalformedPod, view_pod

from .pods import raw_pod


@pytest.mark.parametrize(
    ("pod", "state"),
    [
        (raw_pod("a", phase="Pending", ready=False), PodState.PENDING),
        (raw_pod("a", phase="Running", ready=True), PodState.READY),
        (raw_pod("a", phase="Running", ready=False), PodState.UNREADY),
        (raw_pod("a", terminating=True), PodState.TERMINATING),
        (raw_pod("a", phase="Pending", terminating=True), PodState.TERMINATING),
    ],
)
def test_state(pod: dict[str, object], state: PodState) -> None:
    assert view_pod(pod, color_label="blinktColor").state is state


def test_running_without_conditions_is_unready() -> None:
    pod = raw_pod("a")
    pod["status"] = {"phase": "Running"}
    assert view_pod(pod, color_label="blinktColor").state is PodState.UNREADY


@pytest.mark.parametrize(("label", "color"), [("#A81399", "a81399"), ("FFF", "ffffff"), ("nope", None), (None, None)])
def test_color_is_normalised(label: str | None, color: str | None) -> None:
    assert view_pod(raw_pod("a", color=label), color_label="blinktColor").color == color


def test_custom_color_label() -> None:
    pod = raw_pod("a")
    pod["metadata"]["labels"]["led"] = "00ff00"
    assert view_pod(pod, color_label="led").color == "00ff00"


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_finished(phase: str) -> None:
    assert view_pod(raw_pod("a", phase=phase), color_label="blinktColor").finished


def test_identity_is_the_uid() -> None:
    view = view_pod(raw_pod("a", uid="u-1"), color_label="blinktColor")
    assert view.key == "u-1"
    assert view.entry.uid == "u-1"


@pytest.mark.parametrize("meta", [{}, {"name": "a"}, {"namespace": "ns"}, {"name": "", "namespace": "ns"},
                                  {"name": 42, "namespace": "ns"}, {"name": "a", "namespace": ["ns"]}])
def test_malformed(meta: dict[str, object]) -> None:
    with pytest.raises(MalformedPod):
        view_pod({"metadata": meta}, color_label="blinktColor")


@pytest.mark.parametrize("uid", ["u-1", ""])
def test_key_is_the_contracts_identity(uid: str) -> None:
    pod = raw_pod("a", namespace="ns")
    pod["metadata"]["uid"] = uid
    view = view_pod(pod, color_label="blinktColor")
    assert view.key == view.entry.key == (uid or "ns/a")


# -- automatic version colours ----------------------------------------------------------------


def _versioned(color: str | None, **labels: str) -> dict[str, object]:
    pod = raw_pod("a", color=color)
    pod["metadata"]["labels"] |= labels
    return pod


@pytest.mark.parametrize(("pod", "color"), [
    (_versioned(None, **{"app.kubernetes.io/version": "1.2.4", "pod-template-hash": "6d9f7c8b45"}), "ffff00"),
    (_versioned(None, **{"pod-template-hash": "6d9f7c8b45"}), "80ff00"),
    (_versioned("#A81399", **{"app.kubernetes.io/version": "1.2.4"}), "a81399"),  # the label always wins
    (_versioned("nope", **{"app.kubernetes.io/version": "1.2.4"}), "ffff00"),  # not a colour: no label
    (_versioned(None), None),  # nothing to go by: devices show blue
])
def test_version_colours(pod: dict[str, object], color: str | None) -> None:
    assert view_pod(pod, color_label="blinktColor", version_colors=True).color == color


def test_version_colours_can_be_turned_off() -> None:
    pod = _versioned(None, **{"app.kubernetes.io/version": "1.2.4"})
    assert view_pod(pod, color_label="blinktColor", version_colors=False).color is None
    assert view_pod(pod, color_label="blinktColor").color == "ffff00", "on by default"
