"""Discovery documents: just enough for kubectl and the clients to find pods.

The server answers ``/version``, ``/api``, ``/apis`` and ``/api/v1`` with the legacy
(unaggregated) documents; kubectl asks for aggregated discovery first and falls back
to these, as it does against older clusters. Only pods exist, with the verbs served.
"""

from __future__ import annotations

from sim.pods import JsonDict

VERSION: JsonDict = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-shinealight-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

API_VERSIONS: JsonDict = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}

API_GROUPS: JsonDict = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}

CORE_V1_RESOURCES: JsonDict = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get", "list", "watch"],
            "shortNames": ["po"],
            "categories": ["all"],
        }
    ],
}

DOCUMENTS: dict[str, JsonDict] = {
    "/version": VERSION,
    "/api": API_VERSIONS,
    "/apis": API_GROUPS,
    "/api/v1": CORE_V1_RESOURCES,
}
