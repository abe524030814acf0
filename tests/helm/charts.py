"""Running the real Helm (v4) on the charts and reading what it rendered.

``Helm`` wraps the ``minihelm`` launcher (``helm lint`` / ``helm template`` spelling);
``Rendered`` holds the parsed manifests. The session fixture is in ``conftest.py``.
``Helm.template`` renders each (chart, values, release, namespace) once per session and
hands out the same ``Rendered`` afterwards (treat it as read-only): every render costs
the real Helm a few hundred milliseconds, and many tests look at the same value set.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import ROOT

CHARTS = ROOT / "helm"
ENSURE_HELM = CHARTS / "tools" / "ensure-helm"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """The manifests of one `helm template`, searchable by kind and name."""

    manifests: list[Manifest]
    notes: str

    def all(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [m for m in self.all(kind) if name is None or m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {[m['metadata']['name'] for m in found]}"
        return found[0]

    def kinds(self) -> set[str]:
        return {m["kind"] for m in self.manifests}


@dataclass(frozen=True)
class Helm:
    entry: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.entry), *args], capture_output=True, text=True, timeout=60, check=False)

    def lint(self, chart: str, *sets: str) -> subprocess.CompletedProcess[str]:
        return self.run("lint", str(CHARTS / chart), *_set_args(sets))

    @functools.cache  # noqa: B019 - the session's one Helm lives as long as the cache should
    def template(self, chart: str, *sets: str, release: str | None = None, namespace: str = "lights") -> Rendered:
        result = self.template_raw(chart, *sets, release=release, namespace=namespace)
        assert result.returncode == 0, f"helm template {chart} {sets} failed:\n{result.stderr}"
        return parse_rendered(result.stdout)

    def template_raw(self, chart: str, *sets: str, release: str | None = None,
                     namespace: str = "lights") -> subprocess.CompletedProcess[str]:
        return self.run("template", release or chart, str(CHARTS / chart), "-n", namespace, "--show-notes",
                        *_set_args(sets))


def _set_args(sets: tuple[str, ...]) -> list[str]:
    return [arg for expression in sets for arg in ("--set", expression)]


def parse_rendered(text: str) -> Rendered:
    notes: list[str] = []
    manifests: list[Manifest] = []
    for document in text.split("\n---"):
        if document.lstrip("-").lstrip().startswith("# NOTES"):
            notes.append(document)
            continue
        loaded = yaml.safe_load(document.lstrip("-"))
        if loaded:
            manifests.append(loaded)
    return Rendered(manifests, "\n".join(notes))


def container_of(workload: Manifest, name: str) -> Manifest:
    """The named container of a workload manifest."""
    containers = workload["spec"]["template"]["spec"]["containers"]
    matching = [c for c in containers if c["name"] == name]
    assert matching, f"no container {name!r} in {workload['metadata']['name']}"
    found: Manifest = matching[0]
    return found


def env_of(container: Manifest) -> dict[str, Any]:
    """name -> value, or the valueFrom mapping."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
