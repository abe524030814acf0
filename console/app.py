"""The console's ASGI app: the page, a Server-Sent Events stream, and the control API.

Independent of how the cluster runs: the caller hands in a broker URL (the wall listens
there, on its own MQTT connection), a :class:`console.controlling.Controls` (scale and
strategies, backed by a ``PlanRunner`` over a simulated or a real executor) and a
traffic source. ``python -m demo`` builds these for the simulation,
``python -m console`` for a real cluster::

    controls = RunnerControls(SimulatedExecutor(cluster))   # owns the PlanRunner
    app = create_app(broker="mqtt://127.0.0.1:1883", topic_prefix="", controls=controls,
                     traffic=SimulatedTraffic(cluster))
    handle = serve_in_thread(app, "127.0.0.1", 8080)         # handle.url, handle.stop()

Endpoints:

- ``GET /`` the page; ``GET /wall`` the wall alone, full screen, for a booth's big
  screen; ``/static/*`` their scripts and style (ES modules, no build step);
  ``/favicon.ico`` the icon.
- ``GET /events`` SSE: first a ``state`` message (every node, the step log, the latest
  run and traffic messages, the timeline so far), then ``nodes`` (coalesced per-node
  updates), ``run`` (plan events as they happen), ``traffic`` (requests/s per version
  and the weights, about once per second) and ``timeline`` (a sample every
  :data:`console.timeline.SAMPLE_SECONDS`). One JSON object per ``data:`` line; a
  comment line every :data:`KEEPALIVE_SECONDS` keeps proxies from closing an idle stream.
- ``GET /api/state`` the same first message as JSON (for scripts and curl).
- ``POST /api/scale {"replicas": n}``, ``POST /api/strategy {"name", "version",
  "color"}``, ``POST /api/promote``, ``POST /api/abort``, ``POST /api/traffic {"rate"}``,
  ``POST /api/kill {}`` (a random pod of the demo app the wall shows; or ``{"pod",
  "namespace"}``):
  ``202`` with what was started; ``400`` with ``{"error": ...}`` for bad input (nothing is
  changed); ``409`` while a plan runs (or when there is nothing to promote, abort or
  kill); ``502`` when the executor could not delete the pod. Errors are mapped to
  statuses once, by the app's exception handlers: handlers raise.

Every body sent is a model of ``console.messages``.

Lifecycle: the app's lifespan starts and stops the :class:`console.service.Console` (MQTT
connection, wall flusher, traffic generator and tickers), so whoever serves the app
(uvicorn, or :func:`console.serving.serve_in_thread`) owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bus.ordering import DEFAULT_MAX_PODS
from bus.urls import BrokerAddress
from console.broadcasting import Closing, Hub, Subscriber
from console.controlling import ActionFailed, Busy, Controls
from console.messages import (
    ErrorReply,
    RateReply,
    Reply,
    encode,
)
from console.service import Console
from console.traffic import DEFAULT_RATE, TrafficSource
from console.wall import NoVictim

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# The broker-only browser page (devices/browser), served here too, with the mqtt.js it loads.
BROWSER_PAGE = Path(__file__).resolve().parents[1] / "devices" / "browser"
MQTT_JS = Path(__file__).resolve().parents[1] / "node_modules" / "mqtt" / "dist" / "mqtt.min.js"
KEEPALIVE_SECONDS = 10.0
MAX_BODY_BYTES = 4096


def create_app(
    *,
    broker: BrokerAddress | str,
    topic_prefix: str = "",
    controls: Controls,
    traffic: TrafficSource | None = None,
    traffic_rate: float = DEFAULT_RATE,
    max_pods: int = DEFAULT_MAX_PODS,
    nodes: Sequence[str] = (),
) -> Starlette:
    """The console app; serving it starts the console (``app.state.console``), stopping it stops it.

    ``nodes``: nodes to bootstrap by exact topic from the start (``bus.bootstrapping``; for
    brokers such as RabbitMQ that keep retained messages from wildcard subscriptions).
    """
    console = Console(broker=broker, topic_prefix=topic_prefix, controls=controls, traffic=traffic,
                      traffic_rate=traffic_rate, max_pods=max_pods, nodes=nodes)  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        console.start()
        try:
            yield
        finally:
            console.stop()

    routes = [
        Route("/", _page("index.html")),
        Route("/wall", _page("wall.html")),
        Route("/favicon.ico", _favicon),
        Route("/events", _events),
        Route("/api/state", _state),
        Route("/api/scale", _scale, methods=["POST"]),
        Route("/api/strategy", _strategy, methods=["POST"]),
        Route("/api/promote", _promote, methods=["POST"]),
        Route("/api/abort", _abort, methods=["POST"]),
        Route("/api/traffic", _traffic, methods=["POST"]),
        Route("/api/kill", _kill, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/browser/mqtt.min.js", _mqtt_js),
        Mount("/browser", StaticFiles(directory=BROWSER_PAGE, html=True, check_dir=False), name="browser"),
    ]
    # ValueError: BadRequest, ControlError, and the plans' and traffic's own validation.
    handlers = {ValueError: _status(400), Busy: _status(409), NoTraffic: _status(409), NoVictim: _status(409),
                ActionFailed: _status(502)}  # fmt: skip
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.state.console = console
    return app


def _status(code: int) -> Callable[[Request, Exception], Response]:
    """An exception handler answering ``code`` with ``{"error": str(e)}``: nothing was changed."""

    def handle(_request: Request, error: Exception) -> Response:
        return _json(ErrorReply(error=str(error)), code)

    return handle


def _json(body: BaseModel, status: int = 200) -> Response:
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


# -- request bodies --------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScaleBody(_Body):
    replicas: StrictInt = Field(ge=0)


class StrategyBody(_Body):
    name: StrictStr
    version: StrictStr = Field(min_length=1, max_length=63)
    color: StrictStr = Field(min_length=3, max_length=7)
    canary_weight: StrictInt | None = Field(default=None, ge=1, le=99)


class TrafficBody(_Body):
    rate: StrictFloat | StrictInt


class KillBody(_Body):
    pod: StrictStr | None = Field(default=None, min_length=1, max_length=253)
    namespace: StrictStr | None = Field(default=None, min_length=1, max_length=63)


class BadRequest(ValueError):
    """A request body we cannot use (400)."""


class NoTraffic(Exception):
    """This console has no traffic source (409)."""


B = TypeVar("B", bound=_Body)


async def _parse(request: Request, model: type[B]) -> B:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body too large: {len(raw)} bytes > {MAX_BODY_BYTES}")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}") from e


# -- handlers --------------------------------------------------------------------------


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _page(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return page


async def _favicon(_request: Request) -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


async def _mqtt_js(_request: Request) -> Response:
    if not MQTT_JS.exists():
        return _json(ErrorReply(error=f"{MQTT_JS} is missing: run `make node_modules` (npm ci)"), 404)
    return FileResponse(MQTT_JS)


async def _state(request: Request) -> Response:
    return _json(_console(request).hub.state())


async def _events(request: Request) -> Response:
    hub = _console(request).hub
    subscriber = hub.subscribe(asyncio.get_running_loop())
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(request, hub, subscriber), media_type="text/event-stream", headers=headers)


async def _stream(request: Request, hub: Hub, subscriber: Subscriber) -> AsyncIterator[str]:
    try:
        yield "retry: 1000\n\n"
        while True:
            try:
                first = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            batch = [first] + [subscriber.queue.get_nowait() for _ in range(subscriber.queue.qsize())]
            messages = [m for m in batch if not isinstance(m, Closing)]
            if len(messages) < len(batch):
                return
            yield "".join(f"data: {encode(m)}\n\n" for m in messages)
    finally:
        hub.unsubscribe(subscriber)


async def _control(action: Callable[[], Reply]) -> Response:
    """Run one control call off the event loop (the exception handlers map its errors)."""
    return _json(await asyncio.to_thread(action), 202)


async def _scale(request: Request) -> Response:
    body = await _parse(request, ScaleBody)
    return await _control(lambda: _console(request).controls.scale(body.replicas))


async def _strategy(request: Request) -> Response:
    body = await _parse(request, StrategyBody)
    controls = _console(request).controls
    return await _control(
        lambda: controls.strategy(body.name, version=body.version, color=body.color, canary_weight=body.canary_weight)
    )


async def _promote(request: Request) -> Response:
    return await _control(_console(request).controls.promote)


async def _abort(request: Request) -> Response:
    return await _control(_console(request).controls.abort)


async def _traffic(request: Request) -> Response:
    console = _console(request)
    if console.traffic is None:
        raise NoTraffic("this console has no traffic source")
    body = await _parse(request, TrafficBody)
    console.traffic.set_rate(body.rate)
    return _json(RateReply(rate=console.traffic.rate), 202)


async def _kill(request: Request) -> Response:
    body = await _parse(request, KillBody)
    console = _console(request)
    return await _control(lambda: console.kill(pod=body.pod, namespace=body.namespace))
