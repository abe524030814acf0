"""``python -m demo``: the whole of Shine a Light on one machine, no cluster needed.

Starts, in this order, and stops in reverse on Ctrl-C (or ``--duration``):

1. a broker — Mosquitto if installed, else the embedded one (``--broker URL`` uses an
   existing broker instead);
2. the simulated cluster (``--nodes N``) in real time (``--speed`` scales every timing)
   and its Kubernetes API endpoint, with a kubeconfig written for it;
3. one real watcher per node, reading that kubeconfig like any cluster's;
4. the web console's controls, driving the simulated cluster through the strategy plans;
5. unless ``--headless``: an LED agent following every node, drawn in this terminal;
6. with ``--scenario tour``: the guided tour (``demo/tour.py``);
7. the web console served (``--console-port``; the URL is printed) — last, because the
   first lights need no web server, and on a busy machine starting one takes seconds.

Unless ``--headless``, the terminal view (``led_agent/backends/terminal.py``) opens
first, so every line the demo says from the broker's on is shown above the LEDs (and
printed again on the shell's screen when the view closes), and the plan the console
runs (a button, or the tour) is shown as it goes: the runner's messages, folded by
``demo/progress.py``. On a pipe the view prints plain lines instead.

``--replay CAPTURE`` is the lighter demo of the bus alone: the broker, a looped replay
of a captured stream, and the terminal agent.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette

from broker.launching import start_local_broker
from bus.captures import load_capture
from bus.replaying import ReplayOptions, replay_to_broker
from bus.shell import wait_stopped
from bus.topics import Topics
from bus.urls import BrokerUrl, parse_broker_url
from console.app import create_app
from console.controlling import RunnerControls
from console.executors.simulated import SimulatedExecutor
from console.messages import RunMessage
from console.serving import ServeError, serve_in_thread
from console.traffic import SimulatedTraffic
from demo.progress import advance
from demo.tour import run_tour
from led_agent.agent import Agent, AgentConfig
from led_agent.backends.terminal import TerminalDevice
from led_agent.backends.terminal_layout import Progress
from sim.apiserver import ApiServer
from sim.clock import RealClock
from sim.cluster import Cluster
from sim.kubeconfig import write_kubeconfig
from sim.lifecycle import Timings
from watcher.kube import PodApi, load_configuration
from watcher.service import Watcher, WatcherConfig

log = logging.getLogger(__name__)

BOOKMARK_SECONDS = 30.0
NODE_TOPIC = re.compile(r"(?:^|/)nodes/([^/]+)/(?:pods|state|status)$")


@dataclass
class DemoOptions:
    nodes: int = 3
    broker: str | None = None
    embedded_broker: bool = False
    topic_prefix: str = ""
    console_host: str = "127.0.0.1"
    console_port: int = 8080
    scenario: str | None = None
    speed: float = 1.0
    headless: bool = False
    duration: float | None = None
    leds: int = 8
    seed: int = 0
    replay: Path | None = None


@dataclass
class Demo:
    """Everything the demo started, stopped in reverse order."""

    options: DemoOptions
    stop: threading.Event = field(default_factory=threading.Event)
    console_url: str = ""
    say: Callable[[str], None] = field(default=lambda line: print(line, flush=True))  # prompt when piped
    view: TerminalDevice | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def run(self) -> int:
        with self._stack:
            self._view()
            url = self._broker()
            topics = Topics(self.options.topic_prefix)
            if self.options.replay is not None:
                return self._replay(url, topics)
            cluster = self._cluster()
            self._watchers(cluster, url, topics)
            controls = RunnerControls(SimulatedExecutor(cluster))
            self._follow_plans(controls)
            app = create_app(broker=url, topic_prefix=self.options.topic_prefix, controls=controls,
                             traffic=SimulatedTraffic(cluster))  # its listeners before any plan runs
            self._terminal(cluster.nodes, url, topics)
            failures = self._tour(controls) if self.options.scenario == "tour" else []
            self._console(app)  # served once the tour runs: the first lights need no web server
            self._wait()
            return 1 if failures else 0

    # -- parts ---------------------------------------------------------------------------

    def _view(self) -> None:
        """The terminal view, before anything else: it closes last, and shows every line said."""
        if self.options.headless:
            return
        self.view = TerminalDevice((), stream=sys.stdout, leds=self.options.leds)
        self._stack.callback(self.view.close)
        self.say = self.view.print_above

    def _follow_plans(self, controls: RunnerControls) -> None:
        view = self.view
        if view is None:
            return
        shown: list[Progress | None] = [None]  # only the runner's thread writes it

        def on_message(message: RunMessage) -> None:
            shown[0] = advance(shown[0], message)
            view.set_progress(shown[0])

        controls.on_event(on_message)

    def _broker(self) -> BrokerUrl:
        if self.options.broker:
            return parse_broker_url(self.options.broker)
        broker = start_local_broker(prefer_embedded=self.options.embedded_broker)
        self._stack.callback(broker.stop)
        self.say(f"broker: {broker.kind} on {broker.url}  (watch it: mosquitto_sub -p {broker.port} -v -t 'nodes/#')")
        return parse_broker_url(broker.url)

    def _cluster(self) -> Cluster:
        timings = Timings(startup=(2.0, 4.0), grace=3.0)
        cluster = Cluster(nodes=self.options.nodes, clock=RealClock(speed=self.options.speed), seed=self.options.seed,
                          timings=timings)
        running = cluster.start()
        self._stack.callback(running.stop)
        api = ApiServer(cluster.store, bookmark_interval=BOOKMARK_SECONDS).start()
        self._stack.callback(api.stop)
        tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="shinealight-demo-"))
        self.kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", api.url)
        self.say(f"cluster: {len(cluster.nodes)} simulated nodes, API {api.url}  (kubectl --kubeconfig "
                 f"{self.kubeconfig} get pods -o wide)")
        return cluster

    def _watchers(self, cluster: Cluster, url: BrokerUrl, topics: Topics) -> None:
        configuration = load_configuration(str(self.kubeconfig))
        watchers = [Watcher(WatcherConfig(broker=url, nodes=frozenset({node}), topics=topics), PodApi(configuration))
                    for node in cluster.nodes]
        starting = [threading.Thread(target=w.start, daemon=True) for w in watchers]
        for thread in starting:
            thread.start()
        for watcher in watchers:
            self._stack.callback(watcher.stop)

    def _console(self, app: Starlette) -> None:
        try:
            handle = serve_in_thread(app, self.options.console_host, self.options.console_port)
        except (OSError, ServeError) as e:
            self.say(f"console: port {self.options.console_port} unavailable ({e}); using a free port")
            handle = serve_in_thread(app, self.options.console_host, 0)
        self._stack.callback(handle.stop)
        self.console_url = handle.url
        self.say(f"console: {handle.url}")

    def _terminal(self, nodes: tuple[str, ...], url: BrokerUrl, topics: Topics) -> None:
        if self.view is None:
            return
        config = AgentConfig(broker=url, nodes=nodes, agent_id="demo-terminal", leds=self.options.leds, topics=topics)
        agent = Agent(config, self.view)
        agent.start()
        self._stack.callback(agent.stop)

    def _tour(self, controls: RunnerControls) -> list[BaseException]:
        """Start the tour beside the demo (headless, the demo ends with it); what made it fail, as it happens."""
        failures: list[BaseException] = []
        self._stack.callback(self.stop.set)  # whatever ends the demo ends the tour

        def tour() -> None:
            try:
                done = run_tour(controls, controls.runner, say=self.say, stop=self.stop,
                                canary_pause=8.0 / self.options.speed, settle=3.0 / self.options.speed)
                if done and not self.options.headless:
                    self.say(f"the console is yours: {self.console_url}  (Ctrl-C stops everything)")
            except Exception as e:  # a failed tour must end the demo with a reason, not hang it
                log.exception("the tour failed")
                failures.append(e)
                self.stop.set()
            if self.options.headless:
                self.stop.set()

        threading.Thread(target=tour, name="tour", daemon=True).start()
        return failures

    def _replay(self, url: BrokerUrl, topics: Topics) -> int:
        assert self.options.replay is not None
        capture = load_capture(self.options.replay)
        nodes = sorted({m.group(1) for m in map(NODE_TOPIC.search, (c.topic for c in capture.messages)) if m})
        self.say(f"replaying {self.options.replay} ({len(capture.messages)} messages, nodes {', '.join(nodes)})")
        self._terminal(tuple(nodes), url, topics)
        options = ReplayOptions(speed=self.options.speed, loop=True, topic_prefix=self.options.topic_prefix)
        player = threading.Thread(target=replay_to_broker, args=(capture, url), kwargs={"options": options,
                                  "stop": self.stop}, name="replay", daemon=True)  # fmt: skip
        player.start()
        self._wait()
        player.join(5)
        return 0

    def _wait(self) -> None:
        wait_stopped(self.stop, duration=self.options.duration)

