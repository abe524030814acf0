"""The system chart, rendered by the real Helm: broker, watchers, RBAC, agents."""

from __future__ import annotations

import base64
import re

import pytest

from tests.helm.charts import Helm, container_of, env_of
from tests.support.paths import ROOT

CHART = "shinealight"
BROKER = "shinealight-mosquitto"

LINT_COMBINATIONS = [
    (),
    ("auth.enabled=true",),
    ("auth.enabled=true", "auth.existingSecret=my-mqtt", "bus.topicPrefix=shinealight/"),
    ("agent.enabled=true",),
    ("agent.enabled=true", "agent.gpio.mode=gpiomem", "agent.device=blinkt"),
    ("agent.enabled=true", "agent.device=terminal", "watcher.allNodes=true"),
    ("broker.persistence.enabled=true", "broker.service.type=NodePort"),
    ("broker.enabled=false", "bus.host=mqtt.example.org"),
]


@pytest.mark.parametrize("sets", LINT_COMBINATIONS, ids=lambda s: ",".join(s) or "defaults")
def test_lint_passes(helm: Helm, sets: tuple[str, ...]) -> None:
    result = helm.lint(CHART, *sets)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, no failures" in result.stdout


@pytest.mark.parametrize(("sets", "message"), [
    (("agent.device=neopixel",), "/agent/device"),
    (("bus.topicPrefix=no-slash",), "/bus/topicPrefix"),
    (("agent.gpio.mode=root",), "/agent/gpio/mode"),
])
def test_lint_rejects_bad_values(helm: Helm, sets: tuple[str, ...], message: str) -> None:
    result = helm.lint(CHART, *sets)
    assert result.returncode == 1
    assert message in result.stdout


def test_watcher_daemonset_watches_its_own_node(helm: Helm) -> None:
    rendered = helm.template(CHART)
    daemonset = rendered.one("DaemonSet", "shinealight-watcher")
    watcher = container_of(daemonset, "watcher")
    env = env_of(watcher)
    assert env["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["MQTT_URL"] == f"mqtt://{BROKER}:1883"
    assert watcher["args"][:2] == ["watcher", "--node=$(NODE_NAME)"]
    assert "--selector=blinkt=show" in watcher["args"]
    assert "--color-label=blinktColor" in watcher["args"]
    assert not any(a.startswith("--topic-prefix") for a in watcher["args"])
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["serviceAccountName"] == "shinealight-watcher"
    assert watcher["securityContext"]["readOnlyRootFilesystem"] is True
    assert watcher["resources"]["requests"]["cpu"] == "10m"


def test_watcher_rbac_is_read_only_on_pods(helm: Helm) -> None:
    rendered = helm.template(CHART)
    role = rendered.one("ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    binding = rendered.one("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "shinealight-watcher", "namespace": "lights"}]
    assert rendered.one("ServiceAccount")["metadata"]["name"] == "shinealight-watcher"


def test_watcher_options_reach_the_command_line(helm: Helm) -> None:
    rendered = helm.template(CHART, "watcher.namespaces={default,demo}", "bus.topicPrefix=sal/",
                             "watcher.selector=lights=on", "watcher.tolerations=null")
    args = container_of(rendered.one("DaemonSet", "shinealight-watcher"), "watcher")["args"]
    assert "--namespace=default" in args and "--namespace=demo" in args
    assert "--topic-prefix=sal/" in args
    assert "--selector=lights=on" in args
    assert "tolerations" not in rendered.one("DaemonSet")["spec"]["template"]["spec"]


def test_all_nodes_mode_is_a_single_deployment(helm: Helm) -> None:
    rendered = helm.template(CHART, "watcher.allNodes=true")
    assert "DaemonSet" not in rendered.kinds()
    deployment = rendered.one("Deployment", "shinealight-watcher")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = container_of(deployment, "watcher")["args"]
    assert "--all-nodes" in args and not any(a.startswith("--node") for a in args)


def test_labels_follow_helm_conventions(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true")
    for manifest in rendered.manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "shinealight"
        assert labels["app.kubernetes.io/instance"] == "shinealight"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "shinealight-0.1.0"
    for workload in rendered.all("DaemonSet") + rendered.all("Deployment"):
        selector = workload["spec"]["selector"]["matchLabels"]
        assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
        assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()


def test_broker_service_and_anonymous_config(helm: Helm) -> None:
    rendered = helm.template(CHART)
    service = rendered.one("Service", BROKER)
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"mqtt": 1883, "websockets": 9001}
    deployment = rendered.one("Deployment", BROKER)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container_of(deployment, "mosquitto")["image"] == "eclipse-mosquitto:2"
    conf = rendered.one("ConfigMap", BROKER)["data"]["mosquitto.conf"]
    assert "allow_anonymous true" in conf and "password_file" not in conf
    assert "Secret" not in rendered.kinds()
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert "PersistentVolumeClaim" not in rendered.kinds()
    assert "mosquitto_sub -h 127.0.0.1 -p 1883 -v -t 'nodes/#'" in rendered.notes
    assert f"port-forward svc/{BROKER} 1883:1883" in rendered.notes


def test_broker_persistence_uses_a_kept_claim(helm: Helm) -> None:
    rendered = helm.template(CHART, "broker.persistence.enabled=true", "broker.persistence.size=1Gi")
    claim = rendered.one("PersistentVolumeClaim", BROKER)
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volumes = {v["name"]: v for v in rendered.one("Deployment", BROKER)["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": BROKER}


def test_auth_wires_secret_broker_and_clients(helm: Helm) -> None:
    rendered = helm.template(CHART, "auth.enabled=true", "auth.users.watcher=s3cret-W", "agent.enabled=true")
    secret = rendered.one("Secret", "shinealight-mqtt-auth")
    passwords = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(passwords) == {"watcher", "agent", "console"}
    assert passwords["watcher"] == "s3cret-W"
    assert re.fullmatch(r"[A-Za-z0-9]{32}", passwords["agent"]), "empty passwords are generated"
    for workload, user in [(rendered.one("DaemonSet", "shinealight-watcher"), "watcher"),
                           (rendered.one("DaemonSet", "shinealight-agent"), "agent")]:
        env = env_of(container_of(workload, workload["metadata"]["name"].rsplit("-", 1)[1]))
        assert env["MQTT_PASSWORD"] == {"secretKeyRef": {"name": "shinealight-mqtt-auth", "key": user}}
        assert env["MQTT_URL"] == f"mqtt://{user}:$(MQTT_PASSWORD)@{BROKER}:1883"
        assert "checksum/auth" in workload["spec"]["template"]["metadata"]["annotations"]
    conf = rendered.one("ConfigMap", BROKER)["data"]
    assert "allow_anonymous false" in conf["mosquitto.conf"]
    assert "user watcher" in conf["acl"]
    pod = rendered.one("Deployment", BROKER)["spec"]["template"]["spec"]
    assert {v["name"]: v.get("secret") for v in pod["volumes"]}["auth-src"] == {"secretName": "shinealight-mqtt-auth"}
    assert "mosquitto_passwd -U" in pod["initContainers"][0]["command"][-1]
    assert "-u console -P" in rendered.notes


def test_auth_with_an_existing_secret_creates_none(helm: Helm) -> None:
    rendered = helm.template(CHART, "auth.enabled=true", "auth.existingSecret=lab-mqtt")
    assert "Secret" not in rendered.kinds()
    env = env_of(container_of(rendered.one("DaemonSet"), "watcher"))
    assert env["MQTT_PASSWORD"] == {"secretKeyRef": {"name": "lab-mqtt", "key": "watcher"}}


def test_passwords_that_break_urls_are_refused(helm: Helm) -> None:
    result = helm.template_raw(CHART, "auth.enabled=true", "auth.users.agent=p@ss/word")
    assert result.returncode == 1
    assert "auth.users.agent: use URL-safe characters" in result.stderr


def test_agent_is_off_by_default(helm: Helm) -> None:
    assert [d["metadata"]["name"] for d in helm.template(CHART).all("DaemonSet")] == ["shinealight-watcher"]


def test_agent_on_a_pi_runs_privileged_by_default(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true", "agent.nodeSelector.shinealight\\.io/blinkt=true")
    daemonset = rendered.one("DaemonSet", "shinealight-agent")
    agent = container_of(daemonset, "agent")
    assert agent["args"] == ["led_agent", "--node=$(NODE_NAME)", "--device=blinkt", "--leds=8", "--brightness=0.2",
                             "--agent-id=$(NODE_NAME)", "--log-level=INFO"]
    assert env_of(agent)["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert agent["securityContext"] == {"privileged": True}
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"shinealight.io/blinkt": "true"}
    assert pod["securityContext"]["runAsUser"] == 0
    assert pod["automountServiceAccountToken"] is False


def test_agent_gpiomem_mode_is_unprivileged(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true", "agent.gpio.mode=gpiomem",
                             "agent.gpio.deviceResources.squat\\.ai/gpiomem=1")
    daemonset = rendered.one("DaemonSet", "shinealight-agent")
    agent = container_of(daemonset, "agent")
    assert "privileged" not in agent["securityContext"]
    assert agent["securityContext"]["allowPrivilegeEscalation"] is False
    assert agent["volumeMounts"] == [{"name": "gpiomem", "mountPath": "/dev/gpiomem"}]
    assert agent["resources"]["limits"]["squat.ai/gpiomem"] == 1
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["volumes"][0]["hostPath"] == {"path": "/dev/gpiomem", "type": "CharDevice"}
    assert pod["securityContext"]["supplementalGroups"] == [997]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_agent_without_gpio_device_gets_no_gpio_access(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true", "agent.device=terminal", "bus.topicPrefix=sal/")
    daemonset = rendered.one("DaemonSet", "shinealight-agent")
    agent = container_of(daemonset, "agent")
    assert "--device=terminal" in agent["args"] and "--topic-prefix=sal/" in agent["args"]
    assert "privileged" not in agent["securityContext"] and "volumeMounts" not in agent
    assert "volumes" not in daemonset["spec"]["template"]["spec"]


def test_external_broker(helm: Helm) -> None:
    rendered = helm.template(CHART, "broker.enabled=false", "bus.host=mqtt.lab", "bus.port=1884")
    assert "ConfigMap" not in rendered.kinds() and "Service" not in rendered.kinds()
    assert env_of(container_of(rendered.one("DaemonSet"), "watcher"))["MQTT_URL"] == "mqtt://mqtt.lab:1884"
    missing = helm.template_raw(CHART, "broker.enabled=false")
    assert missing.returncode == 1 and "needs bus.host" in missing.stderr


def _directives(conf: str) -> list[str]:
    """A Mosquitto config without comments and blank lines."""
    return [line.strip() for line in conf.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_broker_config_stays_in_step_with_the_repository(helm: Helm) -> None:
    prod = _directives((ROOT / "broker" / "mosquitto.prod.conf").read_text())
    with_auth = helm.template(CHART, "auth.enabled=true").one("ConfigMap", BROKER)["data"]["mosquitto.conf"]
    assert _directives(with_auth) == prod
    anonymous = helm.template(CHART).one("ConfigMap", BROKER)["data"]["mosquitto.conf"]
    expected = [("allow_anonymous true" if d == "allow_anonymous false" else d) for d in prod
                if not d.startswith(("password_file", "acl_file"))]
    assert _directives(anonymous) == expected


def _as_started(container: dict[str, object], node: str) -> list[str]:
    """The container's arguments after Kubernetes' $(NODE_NAME) expansion, minus the module."""
    args = container["args"]
    assert isinstance(args, list)
    return [str(a).replace("$(NODE_NAME)", node) for a in args[1:]]


def test_rendered_arguments_are_accepted_by_the_programs(helm: Helm) -> None:
    from bus.urls import parse_broker_url
    from led_agent.cli import build_parser as agent_parser
    from watcher.cli import build_parser as watcher_parser

    rendered = helm.template(CHART, "agent.enabled=true", "auth.enabled=true", "bus.topicPrefix=sal/",
                             "watcher.namespaces={default}", "agent.device=json")
    watcher = container_of(rendered.one("DaemonSet", "shinealight-watcher"), "watcher")
    parsed = watcher_parser().parse_args(_as_started(watcher, "node-1"))
    assert (parsed.node, parsed.topic_prefix, parsed.namespaces) == ("node-1", "sal/", ["default"])
    agent = container_of(rendered.one("DaemonSet", "shinealight-agent"), "agent")
    parsed = agent_parser().parse_args(_as_started(agent, "node-1"))
    assert (parsed.nodes, parsed.agent_id, parsed.device, parsed.topic_prefix) == (["node-1"], "node-1", "json", "sal/")
    url = parse_broker_url(str(env_of(agent)["MQTT_URL"]).replace("$(MQTT_PASSWORD)", "Abc-123_x.y~z"))
    assert (url.username, url.password, url.host, url.port) == ("agent", "Abc-123_x.y~z", BROKER, 1883)
