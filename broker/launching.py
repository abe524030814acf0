"""Start a broker for the demo and the tests, on a free port, and stop it cleanly.

Preference: the local ``mosquitto`` binary (the real thing); else, for tests on a
machine with Docker, testcontainers' Mosquitto (see ``tests/conftest.py``); else the
embedded pure-Python broker (``broker.embedded``, MQTT 3.1.1 only), so that the demo
runs on a bare machine. The system broker on 1883 is never touched.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class BrokerStartError(RuntimeError):
    """A broker process that did not come up."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


@dataclass
class RunningBroker:
    """A broker process this code started."""

    kind: str
    port: int
    ws_port: int | None
    process: subprocess.Popen[bytes]
    workdir: Path
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url,)

    @property
    def log_path(self) -> Path:
        return self.workdir / "broker.log"

    def stop(self, *, timeout: float = 5.0) -> None:
        stop_process(self.process, timeout=timeout)
        if self._tmp is not None:
            self._tmp.cleanup()

    def kill(self) -> None:
        """Stop without a chance to save (the `kill -9` case)."""
        self.process.kill()
        self.process.wait()


def private_workdir(workdir: Path | None, kind: str) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    """``workdir``, or a fresh temporary one (returned too: the caller cleans it up)."""
    if workdir is not None:
        return workdir, None
    tmp = tempfile.TemporaryDirectory(prefix=f"shinealight-{kind}-")
    return Path(tmp.name), tmp


def stop_process(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM a process we started, and SIGKILL it if it lingers past ``timeout``."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _spawn(command: list[str], workdir: Path, *, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C in a terminal signals the whole foreground process group,
    # and a broker that dies with it would pull the bus from under the parts still stopping.
    # We stop it ourselves, last.
    with (workdir / "broker.log").open("ab") as log_file:  # the child keeps its own descriptor
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log_file, cwd=cwd or workdir,
                                start_new_session=True)


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float, workdir: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (workdir / "broker.log").read_text(errors="replace")[-500:]
            raise BrokerStartError(f"broker exited with code {process.returncode} before listening on {port}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise BrokerStartError(f"broker did not listen on 127.0.0.1:{port} within {timeout:g} s")


def run_as_user() -> str:
    """The user a Mosquitto we start should run as: whoever we are.

    Started as root, Mosquitto drops to the ``mosquitto`` user unless told otherwise,
    and then cannot write the database into the root-owned private dir we made for it:
    every autosave fails and a restart comes back empty. (Started as anyone else it
    ignores ``user``.)
    """
    return pwd.getpwuid(os.geteuid()).pw_name


def mosquitto_config(*, port: int, ws_port: int | None, data_dir: Path, persistence: bool,
                     password_file: Path | None = None) -> str:
    lines = [
        f"user {run_as_user()}",
        "per_listener_settings false",
        "allow_anonymous false" if password_file else "allow_anonymous true",
        f"listener {port} 127.0.0.1",
        "protocol mqtt",
    ]
    if password_file:
        lines.append(f"password_file {password_file}")
    if ws_port:
        lines += [f"listener {ws_port} 127.0.0.1", "protocol websockets"]
    if persistence:
        lines += ["persistence true", f"persistence_location {data_dir}/", "autosave_interval 1"]
    lines += ["max_queued_messages 10000", "max_inflight_messages 100", "log_dest stderr", "log_type error"]
    return "\n".join(lines) + "\n"


def start_mosquitto(
    *,
    port: int | None = None,
    ws_port: int | None = None,
    workdir: Path | None = None,
    persistence: bool = True,
    binary: str | None = None,
    users: Mapping[str, str] | None = None,
) -> RunningBroker:
    """Start the local Mosquitto on a free port (``workdir`` keeps its data across restarts).

    ``users`` (name → password): only they may connect (``mosquitto_passwd`` hashes them).
    """
    exe = binary or find_mosquitto()
    if exe is None:
        raise BrokerStartError("no mosquitto binary found (apt-get install mosquitto)")
    workdir, tmp = private_workdir(workdir, "mosquitto")
    port = port or free_port()
    password_file = _write_password_file(workdir / "passwords", users) if users else None
    conf = workdir / "mosquitto.conf"
    conf.write_text(mosquitto_config(port=port, ws_port=ws_port, data_dir=workdir, persistence=persistence,
                                     password_file=password_file))
    process = _spawn([exe, "-c", str(conf)], workdir)
    wait_for_port(port, process, timeout=10, workdir=workdir)
    log.info("mosquitto listening on 127.0.0.1:%d", port)
    return RunningBroker("mosquitto", port, ws_port, process, workdir, tmp)


def _write_password_file(path: Path, users: Mapping[str, str]) -> Path:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path.write_text("")
    for name, password in users.items():  # -b: the password is an argument of a process of ours, briefly
        subprocess.run([tool, "-b", str(path), name, password], check=True, capture_output=True)
    return path


def start_embedded(*, port: int | None = None) -> RunningBroker:
    """Start the embedded pure-Python broker in a child process."""
    tmp = tempfile.TemporaryDirectory(prefix="shinealight-embedded-")
    port = port or free_port()
    workdir = Path(tmp.name)
    package_root = Path(__file__).resolve().parents[1]
    process = _spawn([sys.executable, "-m", "broker", "--port", str(port)], workdir, cwd=package_root)
    wait_for_port(port, process, timeout=20, workdir=workdir)
    log.info("embedded broker listening on 127.0.0.1:%d", port)
    return RunningBroker("embedded", port, None, process, workdir, tmp)


def start_local_broker(*, port: int | None = None, prefer_embedded: bool = False) -> RunningBroker:
    """Mosquitto if installed (unless ``prefer_embedded``), else the embedded broker."""
    if not prefer_embedded and find_mosquitto():
        return start_mosquitto(port=port)
    return start_embedded(port=port)
