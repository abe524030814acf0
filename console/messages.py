"""What the browser receives: every Server-Sent Events message (and ``/api/state``), typed.

Pure: pydantic models and the functions that build them from the console's own data
(the plan runner's events, the plans' state, the wall's node lists). The page's script
(``static/app.js``) reads exactly these shapes; a field renamed here is a field renamed
there, and mypy checks every producer.

Messages, by ``type``:

- ``state`` — the first message of every stream: every node as last flushed, the step log
  (run messages), the controls, and the latest ``run`` and ``traffic`` message;
- ``nodes`` — coalesced per-node updates of the wall (``console.wall``): a node's whole
  ordered list with the slots of the pods removed since the last flush, or ``gone``;
- ``run`` — one per plan-runner event (``event`` names it: ``plan-started``,
  ``step-started`` …), each carrying the controls' state after it, so the page enables
  Promote and Abort from the stream alone;
- ``traffic`` — requests per second per version, failures, and the route's weights; and
  ``rows``, one per version (``console.versions.split``): the weight the last step set
  and the measured share, each column adding up to 100;
- ``timeline`` — one sample of the strategy's timeline (``console.timeline``): pods per
  colour and state, pods per release, traffic share per version, and a mark for a
  moment of the run (a plan started, the weights set, a pause, the end).

Serialised with :func:`encode` (compact JSON; ``None`` stays ``null``: the page tests
``seconds === null`` for "until promoted").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bus.messages import PodEntry


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- the wall -----------------------------------------------------------------------------


class Light(_Message):
    key: str
    pod: str
    color: str
    state: str

    @classmethod
    def of(cls, entry: PodEntry) -> Light:
        """One pod as the browser draws it; a missing state counts as ready (the rendering rule)."""
        state = entry.state.value if entry.state is not None else "ready"
        return cls(key=entry.key, pod=entry.pod, color=entry.shown_color, state=state)


class Removal(_Message):
    slot: int
    key: str


class NodeView(_Message):
    """A node as last flushed: where a new browser starts (``hidden``: pods beyond the wall's cap)."""

    node: str
    status: str | None
    pods: tuple[Light, ...]
    hidden: int = 0


class NodeChange(NodeView):
    """A node's new list, and the slots (in the list sent before) of the pods removed since."""

    removed: tuple[Removal, ...]


class NodeGone(_Message):
    node: str
    gone: Literal[True] = True


NodeUpdate = NodeChange | NodeGone


class NodesMessage(_Message):
    type: Literal["nodes"] = "nodes"
    nodes: tuple[NodeUpdate, ...]


# -- the controls -------------------------------------------------------------------------


class ReleaseRow(_Message):
    """A release: its Deployment's name (the release's), what it runs, and its route weight."""

    release: str
    version: str | None
    color: str | None
    replicas: int | None
    strategy: str | None
    weight: int | None = None  # its backend's weight in the route; None: not a backend


class WeightRow(_Message):
    """A route backend with its release's version and colour (None once the release is gone)."""

    release: str
    weight: int
    version: str | None = None
    color: str | None = None


Action = Literal["scale", "recreate", "rolling", "blue-green", "canary", "promote", "abort"]


class ControlsState(_Message):
    """What the buttons can do now: ``blocked`` names each action that cannot act, and why."""

    busy: bool
    paused: bool
    releases: tuple[ReleaseRow, ...]
    weights: tuple[WeightRow, ...]
    summary: str
    live: str | None = None  # the release serving traffic (the one Scale and the strategies start from)
    blocked: dict[Action, str] = {}
    max_replicas: int = 100


# -- the run ------------------------------------------------------------------------------


class _Run(_Message):
    type: Literal["run"] = "run"
    controls: ControlsState | None = None


class PlanStartedMessage(_Run):
    event: Literal["plan-started"] = "plan-started"
    strategy: str
    aborting: bool
    steps: tuple[str, ...]


class StepMessage(_Run):
    event: Literal["step-started", "step-done", "step-failed"]
    index: int
    step: str
    kind: str
    error: str | None = None


class WeightsMessage(_Run):
    event: Literal["weights-set"] = "weights-set"
    route: str
    weights: tuple[WeightRow, ...]


class PausedMessage(_Run):
    event: Literal["paused"] = "paused"
    index: int
    seconds: float | None


class ResumedMessage(_Run):
    event: Literal["resumed"] = "resumed"
    index: int
    promoted: bool


class LogMessage(_Run):
    event: Literal["log"] = "log"
    line: str


class AbortedMessage(_Run):
    event: Literal["aborted"] = "aborted"
    index: int


class FinishedMessage(_Run):
    event: Literal["finished"] = "finished"
    ok: bool
    aborted: bool
    summary: str


RunMessage = (PlanStartedMessage | StepMessage | WeightsMessage | PausedMessage | ResumedMessage | LogMessage
              | AbortedMessage | FinishedMessage)


# -- traffic and the first message --------------------------------------------------------


class SplitRow(_Message):
    """One version's traffic: the releases running it, the weight set (per cent) and the share measured."""

    version: str
    color: str | None
    releases: tuple[str, ...]
    weight: int | None  # None: no release runs it now (old pods still answering), or no route
    rate: float
    share: int


class TrafficMessage(_Message):
    type: Literal["traffic"] = "traffic"
    by_version: dict[str, float]
    failed: float
    idle: bool
    total: int
    weights: tuple[WeightRow, ...]
    rate: float
    rows: tuple[SplitRow, ...] = ()
    failed_share: int = 0


# -- the timeline -------------------------------------------------------------------------


class PodCount(_Message):
    """The lights of one colour across the wall, by state; ``versions``: what that colour has run."""

    color: str
    versions: tuple[str, ...]
    pending: int = 0
    ready: int = 0
    unready: int = 0
    terminating: int = 0


class ReleasePods(_Message):
    release: str
    pods: int
    ready: int


class ShareSample(_Message):
    version: str
    color: str | None
    share: int
    weight: int | None


class TimelineSample(_Message):
    t: float  # seconds since the console started
    pods: tuple[PodCount, ...]
    releases: tuple[ReleasePods, ...]
    traffic: tuple[ShareSample, ...]
    failed: int  # per cent of requests that failed
    mark: str | None = None


class TimelineMessage(_Message):
    type: Literal["timeline"] = "timeline"
    sample: TimelineSample


class StateMessage(_Message):
    type: Literal["state"] = "state"
    nodes: tuple[NodeView, ...]
    log: tuple[RunMessage, ...]
    controls: ControlsState | None = None
    run: RunMessage | None = None
    traffic: TrafficMessage | None = None
    timeline: tuple[TimelineSample, ...] = ()


Message = StateMessage | NodesMessage | RunMessage | TrafficMessage | TimelineMessage


def encode(message: Message) -> str:
    """Compact JSON, one line (an SSE ``data:`` line)."""
    return message.model_dump_json()


# -- replies to the control API -----------------------------------------------------------


class StartedReply(_Message):
    strategy: str
    steps: tuple[str, ...]
    already_running: bool = False  # the same plan was running already (a double click): not an error


class KilledReply(_Message):
    pod: str
    namespace: str | None
    node: str


class PromotedReply(_Message):
    promoted: Literal[True] = True


class AbortingReply(_Message):
    aborting: Literal[True] = True


class RateReply(_Message):
    rate: float


class ErrorReply(_Message):
    error: str


Reply = StartedReply | PromotedReply | AbortingReply | RateReply | KilledReply | ErrorReply
