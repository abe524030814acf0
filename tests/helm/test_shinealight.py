"""The system chart, rendered by the real Helm: broker, watchers, RBAC, agents, auth, TLS."""

from __future__ import annotations

import base64
import re

import pytest

from tests.helm.charts import Helm, Manifest, Rendered, container_of, env_of
from tests.helm.schemas import pod_spec
from tests.support.paths import ROOT

CHART = "shinealight"
BROKER = "shinealight-mosquitto"
SECRET = "shinealight-mqtt-auth"
TLS = ("broker.tls.enabled=true", "broker.tls.secretName=mqtt-tls")

LINT_COMBINATIONS = [
    (),
    ("auth.enabled=false",),
    ("auth.existingSecret=my-mqtt", "bus.topicPrefix=shinealight/"),
    ("agent.enabled=true",),
    ("agent.enabled=true", "agent.gpio.mode=privileged"),
    ("agent.enabled=true", "agent.device=terminal", "watcher.allNodes=true"),
    ("broker.persistence.enabled=true", "broker.service.type=NodePort", *TLS),
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
    (("agent.gpio.mode=gpiomem",), "/agent/gpio/mode"),
    (("agent.gpio.driver=wiringpi",), "/agent/gpio/driver"),
    (("agent.gpio.devices={gpiomem}",), "/agent/gpio/devices"),
    (("auth.viewers={a b}",), "/auth/viewers"),
    (("networkPolicy.from.mqt[0].ipBlock.cidr=10.0.0.0/8",), "/networkPolicy/from"),
])
def test_lint_rejects_bad_values(helm: Helm, sets: tuple[str, ...], message: str) -> None:
    result = helm.lint(CHART, *sets)
    assert result.returncode == 1
    assert message in result.stdout


def _pod(rendered: Rendered, kind: str, name: str) -> Manifest:
    return pod_spec(rendered.one(kind, name))


# -- watchers ---------------------------------------------------------------------------


def test_watcher_daemonset_watches_its_own_node(helm: Helm) -> None:
    rendered = helm.template(CHART)
    daemonset = rendered.one("DaemonSet", "shinealight-watcher")
    watcher = container_of(daemonset, "watcher")
    assert watcher["args"][:2] == ["watcher", "--node=$(NODE_NAME)"]
    assert {"--selector=blinkt=show", "--color-label=blinktColor", "--http-port=8080"} <= set(watcher["args"])
    assert not any(a.startswith("--topic-prefix") for a in watcher["args"])
    assert env_of(watcher)["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    pod = pod_spec(daemonset)
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["serviceAccountName"] == "shinealight-watcher"
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsNonRoot"]) == (10001, True)
    assert watcher["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(("sets", "kind", "name"), [
    ((), "DaemonSet", "shinealight-watcher"),
    (("agent.enabled=true", "agent.httpPort=9090"), "DaemonSet", "shinealight-agent"),
])
def test_watchers_and_agents_serve_health_to_their_probes(helm: Helm, sets: tuple[str, ...], kind: str,
                                                          name: str) -> None:
    container = pod_spec(helm.template(CHART, *sets).one(kind, name))["containers"][0]
    port = 9090 if "agent" in name else 8080
    assert f"--http-port={port}" in container["args"]
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_every_container_has_probes(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true")
    for workload in rendered.all("DaemonSet") + rendered.all("Deployment"):
        for container in pod_spec(workload)["containers"]:
            assert {"livenessProbe", "readinessProbe"} <= set(container), container["name"]


def test_watcher_rbac_is_cluster_wide_read_only_on_pods_by_default(helm: Helm) -> None:
    rendered = helm.template(CHART)
    roles = {r["metadata"]["name"]: r for r in rendered.all("ClusterRole")}
    assert roles["shinealight-watcher"]["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]
    bindings = {b["metadata"]["name"]: b for b in rendered.all("ClusterRoleBinding")}
    assert set(bindings) == set(roles) == {"shinealight-watcher", "shinealight-watcher-nodes"}
    for name, binding in bindings.items():
        assert binding["roleRef"]["name"] == name
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "shinealight-watcher", "namespace": "lights"}]
    assert {"Role", "RoleBinding"}.isdisjoint(rendered.kinds())


def test_nodes_are_readable_only_with_get_and_list_and_the_grant_can_be_dropped(helm: Helm) -> None:
    rendered = helm.template(CHART, "watcher.namespaces={default}")
    (role,) = rendered.all("ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]
    assert {"ClusterRole", "ClusterRoleBinding"}.isdisjoint(
        helm.template(CHART, "watcher.namespaces={default}", "rbac.nodes=false").kinds())


def test_restricted_namespaces_get_namespaced_roles_only(helm: Helm) -> None:
    rendered = helm.template(CHART, "watcher.namespaces={default,demo}", "bus.topicPrefix=sal/",
                             "watcher.selector=lights=on", "watcher.tolerations=null")
    # Pods only in the namespaces named; the one cluster-wide grant left is nodes get/list.
    assert [r["rules"][0]["resources"] for r in rendered.all("ClusterRole")] == [["nodes"]]
    roles = {r["metadata"]["namespace"]: r for r in rendered.all("Role")}
    bindings = {b["metadata"]["namespace"]: b for b in rendered.all("RoleBinding")}
    assert set(roles) == set(bindings) == {"default", "demo"}
    for namespace, role in roles.items():
        assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
        assert bindings[namespace]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                  "name": role["metadata"]["name"]}
        assert bindings[namespace]["subjects"][0]["namespace"] == "lights"
    args = container_of(rendered.one("DaemonSet", "shinealight-watcher"), "watcher")["args"]
    assert {"--namespace=default", "--namespace=demo", "--topic-prefix=sal/", "--selector=lights=on"} <= set(args)
    assert "tolerations" not in pod_spec(rendered.one("DaemonSet"))


def test_all_nodes_mode_is_a_single_deployment(helm: Helm) -> None:
    rendered = helm.template(CHART, "watcher.allNodes=true")
    assert [d["metadata"]["name"] for d in rendered.all("DaemonSet")] == []
    deployment = rendered.one("Deployment", "shinealight-watcher")
    assert (deployment["spec"]["replicas"], deployment["spec"]["strategy"]) == (1, {"type": "Recreate"})
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


# -- credentials ------------------------------------------------------------------------


def _passwords(rendered: Rendered) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in rendered.one("Secret", SECRET)["data"].items()}


def test_auth_is_on_by_default_with_generated_passwords(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true")
    passwords = _passwords(rendered)
    assert set(passwords) == {"watcher", "agent", "viewer"}
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", p) for p in passwords.values()), "generated passwords"
    conf = rendered.one("ConfigMap", BROKER)["data"]
    assert "allow_anonymous false" in conf["mosquitto.conf"]
    assert "Secret" in rendered.kinds() and "NetworkPolicy" in rendered.kinds()


def test_clients_get_a_user_and_a_password_file_never_a_password(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true")
    for name, user in [("shinealight-watcher", "watcher"), ("shinealight-agent", "agent")]:
        daemonset = rendered.one("DaemonSet", name)
        pod = pod_spec(daemonset)
        container = pod["containers"][0]
        env = env_of(container)
        assert env["MQTT_URL"] == f"mqtt://{BROKER}:1883"
        assert (env["MQTT_USERNAME"], env["MQTT_PASSWORD_FILE"]) == (user, "/etc/shinealight/mqtt/password")
        assert "MQTT_PASSWORD" not in env
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["mqtt-password"]["secret"] == {
            "secretName": SECRET, "defaultMode": 0o440, "items": [{"key": user, "path": "password"}]}
        assert {"name": "mqtt-password", "mountPath": "/etc/shinealight/mqtt", "readOnly": True} in \
            container["volumeMounts"]
        assert pod["securityContext"]["fsGroup"] == 10001, "the password file is group-readable by the pod"
        assert "checksum/auth" in daemonset["spec"]["template"]["metadata"]["annotations"]
        assert not any("$(" in str(v) and "PASSWORD" in str(v) for v in env.values())


def test_given_passwords_and_extra_viewers(helm: Helm) -> None:
    rendered = helm.template(CHART, "auth.passwords.watcher=s3cret:W#1", "auth.viewers={viewer,console}")
    passwords = _passwords(rendered)
    assert set(passwords) == {"watcher", "agent", "viewer", "console"}
    assert passwords["watcher"] == "s3cret:W#1"
    acl = rendered.one("ConfigMap", BROKER)["data"]["acl"]
    assert "user console\ntopic read #\ntopic deny consoles/#" in acl
    script = pod_spec(rendered.one("Deployment", BROKER))["initContainers"][0]["command"][-1]
    assert "for user in watcher agent viewer console; do" in script


@pytest.mark.parametrize(("sets", "message"), [
    (("auth.passwords.agent=two words",), "auth.passwords.agent: printable ASCII without spaces"),
    (("auth.passwords.watchr=x",), "auth.passwords.watchr: no such user"),
    (("auth.viewers={viewer,agent}",), '"agent" is not a usable viewer name'),
    (("auth.viewers={node}",), '"node" is not a usable viewer name'),
])
def test_bad_credentials_values_are_refused(helm: Helm, sets: tuple[str, ...], message: str) -> None:
    result = helm.template_raw(CHART, *sets)
    assert result.returncode == 1
    assert message in result.stderr


def test_auth_with_an_existing_secret_creates_none(helm: Helm) -> None:
    rendered = helm.template(CHART, "auth.existingSecret=lab-mqtt")
    assert "Secret" not in rendered.kinds()
    volumes = {v["name"]: v for v in _pod(rendered, "DaemonSet", "shinealight-watcher")["volumes"]}
    assert volumes["mqtt-password"]["secret"]["secretName"] == "lab-mqtt"
    broker = _pod(rendered, "Deployment", BROKER)
    assert {v["name"]: v.get("secret") for v in broker["volumes"]}["auth-src"] == {"secretName": "lab-mqtt"}
    assert "the auth Secret has no key $user" in broker["initContainers"][0]["command"][-1]


def test_anonymous_variant_is_explicit(helm: Helm) -> None:
    rendered = helm.template(CHART, "auth.enabled=false", "agent.enabled=true")
    assert "Secret" not in rendered.kinds()
    conf = rendered.one("ConfigMap", BROKER)["data"]
    assert "allow_anonymous true" in conf["mosquitto.conf"] and "acl" not in conf
    env = env_of(container_of(rendered.one("DaemonSet", "shinealight-agent"), "agent"))
    assert set(env) == {"NODE_NAME", "MQTT_URL"}
    assert "auth.enabled=false - anyone who reaches the broker" in rendered.notes


# -- broker -----------------------------------------------------------------------------


def test_broker_service_ports_and_notes(helm: Helm) -> None:
    rendered = helm.template(CHART)
    service = rendered.one("Service", BROKER)
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"mqtt": 1883, "websockets": 9001,
                                                                          "bound": 1884}
    deployment = rendered.one("Deployment", BROKER)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container_of(deployment, "mosquitto")["image"] == "eclipse-mosquitto:2.0.22"
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert "PersistentVolumeClaim" not in rendered.kinds()
    assert f"port-forward svc/{BROKER} 1884:1884" in rendered.notes
    assert "mosquitto_sub -h 127.0.0.1 -p 1884 -u viewer -P \"$PASS\" -v -t 'nodes/#'" in rendered.notes


def test_network_policy_admits_each_port_from_its_clients_only(helm: Helm) -> None:
    rendered = helm.template(CHART, "networkPolicy.from.websockets[0].ipBlock.cidr=192.168.1.0/24")
    policy = rendered.one("NetworkPolicy", BROKER)["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "broker"
    assert policy["policyTypes"] == ["Ingress", "Egress"] and policy["egress"] == []
    rules = {rule["ports"][0]["port"]: rule["from"] for rule in policy["ingress"]}
    assert set(rules) == {"mqtt", "websockets", "bound"}
    components = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rules["mqtt"]]
    assert components == ["watcher", "agent"]
    assert all(peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "shinealight"
               for peer in rules["mqtt"])
    assert rules["websockets"] == [{"ipBlock": {"cidr": "192.168.1.0/24"}}]
    assert rules["bound"] == [{"podSelector": {"matchLabels": {"shinealight.io/bus-client": "true"}}}]


def test_network_policy_without_extra_peers_closes_websockets(helm: Helm) -> None:
    policy = helm.template(CHART).one("NetworkPolicy", BROKER)["spec"]
    assert [rule["ports"][0]["port"] for rule in policy["ingress"]] == ["mqtt", "bound"]
    assert "NetworkPolicy" not in helm.template(CHART, "networkPolicy.enabled=false").kinds()


def test_broker_persistence_uses_a_kept_claim(helm: Helm) -> None:
    rendered = helm.template(CHART, "broker.persistence.enabled=true", "broker.persistence.size=1Gi")
    claim = rendered.one("PersistentVolumeClaim", BROKER)
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volumes = {v["name"]: v for v in _pod(rendered, "Deployment", BROKER)["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": BROKER}


def test_tls_puts_the_secret_certificate_on_every_listener(helm: Helm) -> None:
    rendered = helm.template(CHART, *TLS, "agent.enabled=true")
    conf = rendered.one("ConfigMap", BROKER)["data"]["mosquitto.conf"]
    assert conf.count("certfile /etc/mosquitto/certs/tls.crt") == conf.count("listener ") == 3
    broker = _pod(rendered, "Deployment", BROKER)
    certs = {v["name"]: v for v in broker["volumes"]}["certs"]["secret"]
    assert (certs["secretName"], certs["defaultMode"]) == ("mqtt-tls", 0o440)
    for name in ("shinealight-watcher", "shinealight-agent"):
        pod = _pod(rendered, "DaemonSet", name)
        env = env_of(pod["containers"][0])
        assert env["MQTT_URL"] == f"mqtts://{BROKER}:1883"
        assert env["SSL_CERT_FILE"] == "/etc/shinealight/mqtt-ca/ca.crt"
        assert {v["name"]: v for v in pod["volumes"]}["mqtt-ca"]["secret"]["secretName"] == "mqtt-tls"
    missing = helm.template_raw(CHART, "broker.tls.enabled=true")
    assert missing.returncode == 1 and "needs broker.tls.secretName" in missing.stderr


@pytest.mark.parametrize(("sets", "url", "ca"), [
    (("bus.host=mqtt.lab", "bus.port=1884"), "mqtt://mqtt.lab:1884", None),
    (("bus.host=mqtt.lab", "bus.scheme=mqtts"), "mqtts://mqtt.lab:8883", None),
    (("bus.host=mqtt.lab", "bus.scheme=wss", "bus.tls.caSecret=lab-ca", "bus.tls.caKey=root.pem"),
     "wss://mqtt.lab:443", "/etc/shinealight/mqtt-ca/root.pem"),
])
def test_external_broker(helm: Helm, sets: tuple[str, ...], url: str, ca: str | None) -> None:
    rendered = helm.template(CHART, "broker.enabled=false", *sets)
    assert {"ConfigMap", "Service", "NetworkPolicy", "Deployment"}.isdisjoint(rendered.kinds())
    assert "Secret" in rendered.kinds(), "the clients' passwords still come from the chart's Secret"
    env = env_of(container_of(rendered.one("DaemonSet"), "watcher"))
    assert (env["MQTT_URL"], env.get("SSL_CERT_FILE"), env["MQTT_USERNAME"]) == (url, ca, "watcher")
    missing = helm.template_raw(CHART, "broker.enabled=false")
    assert missing.returncode == 1 and "needs bus.host" in missing.stderr


def _directives(conf: str) -> list[str]:
    """A Mosquitto config without comments and blank lines."""
    return [line.strip() for line in conf.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_broker_config_stays_in_step_with_the_repository(helm: Helm) -> None:
    prod = _directives((ROOT / "broker" / "mosquitto.prod.conf").read_text())
    data = helm.template(CHART).one("ConfigMap", BROKER)["data"]
    assert _directives(data["mosquitto.conf"]) == prod
    assert _directives(data["acl"]) == _directives((ROOT / "broker" / "acl.prod").read_text())
    anonymous = helm.template(CHART, "auth.enabled=false").one("ConfigMap", BROKER)["data"]["mosquitto.conf"]
    bound = prod.index("listener 1884")
    expected = [("allow_anonymous true" if d == "allow_anonymous false" else d)
                for d in prod[:bound] + prod[bound + 3:] if not d.startswith(("password_file", "acl_file"))]
    assert _directives(anonymous) == expected


def test_acl_follows_the_topic_prefix(helm: Helm) -> None:
    acl = helm.template(CHART, "bus.topicPrefix=sal/").one("ConfigMap", BROKER)["data"]["acl"]
    assert _directives(acl) == [
        "user watcher", "topic readwrite sal/nodes/#", "topic write homeassistant/#", "user agent",
        "topic read sal/nodes/#", "user viewer", "topic read sal/#", "topic read homeassistant/#",
        "topic deny sal/viewers/#", "pattern readwrite sal/%us/%c/#"]


# -- agents -----------------------------------------------------------------------------


def test_agent_is_off_by_default(helm: Helm) -> None:
    assert [d["metadata"]["name"] for d in helm.template(CHART).all("DaemonSet")] == ["shinealight-watcher"]


def test_blinkt_agents_run_unprivileged_on_labelled_nodes_with_host_devices(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true")
    daemonset = rendered.one("DaemonSet", "shinealight-agent")
    agent = container_of(daemonset, "agent")
    assert agent["args"] == ["led_agent", "--node=$(NODE_NAME)", "--device=blinkt", "--leds=8", "--brightness=0.2",
                             "--agent-id=$(NODE_NAME)", "--log-level=INFO", "--http-port=8080"]
    assert agent["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}}
    pod = pod_spec(daemonset)
    assert pod["nodeSelector"] == {"shinealight.io/device": "blinkt"}
    assert pod["automountServiceAccountToken"] is False
    context = pod["securityContext"]
    assert (context["runAsNonRoot"], context["runAsUser"], context["supplementalGroups"]) == (True, 10001, [997])
    assert {v["name"]: v.get("hostPath") for v in pod["volumes"]}["gpio-0"] == {
        "path": "/dev/gpiochip0", "type": "CharDevice"}
    assert {"name": "gpio-0", "mountPath": "/dev/gpiochip0"} in agent["volumeMounts"]


def test_agent_devices_labels_and_tolerations_are_configurable(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true", "agent.gpio.devices={/dev/gpiomem,/dev/gpiochip4}",
                             "agent.gpio.groups={993}", "agent.nodeSelector.shinealight\\.io/device=blinkt-v2",
                             "agent.tolerations[0].key=pi", "agent.tolerations[0].operator=Exists",
                             "agent.gpio.driver=gpiod")
    pod = _pod(rendered, "DaemonSet", "shinealight-agent")
    assert [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v] == ["/dev/gpiomem", "/dev/gpiochip4"]
    assert pod["securityContext"]["supplementalGroups"] == [993]
    assert pod["nodeSelector"] == {"shinealight.io/device": "blinkt-v2"}
    assert pod["tolerations"] == [{"key": "pi", "operator": "Exists"}]
    assert "--gpio-driver=gpiod" in pod["containers"][0]["args"]
    anywhere = _pod(helm.template(CHART, "agent.enabled=true", "agent.nodeSelector.shinealight\\.io/device=null"),
                    "DaemonSet", "shinealight-agent")
    assert "nodeSelector" not in anywhere


def test_agent_with_a_device_plugin_needs_no_host_mount(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true", "agent.gpio.deviceResources.squat\\.ai/gpio=1")
    pod = _pod(rendered, "DaemonSet", "shinealight-agent")
    agent = pod["containers"][0]
    assert agent["resources"]["limits"] == {"memory": "128Mi", "squat.ai/gpio": 1}
    assert not any("hostPath" in v for v in pod["volumes"])
    assert pod["securityContext"]["supplementalGroups"] == [997]


def test_privileged_gpio_is_an_explicit_opt_in(helm: Helm) -> None:
    pod = _pod(helm.template(CHART, "agent.enabled=true", "agent.gpio.mode=privileged"),
               "DaemonSet", "shinealight-agent")
    assert pod["containers"][0]["securityContext"] == {"privileged": True}
    assert pod["securityContext"] == {"runAsUser": 0, "runAsNonRoot": False}
    assert not any("hostPath" in v for v in pod["volumes"])


def test_agent_without_gpio_device_gets_no_gpio_access(helm: Helm) -> None:
    rendered = helm.template(CHART, "agent.enabled=true", "agent.device=terminal", "bus.topicPrefix=sal/",
                             "agent.gpio.driver=gpiod")
    pod = _pod(rendered, "DaemonSet", "shinealight-agent")
    agent = pod["containers"][0]
    assert "--device=terminal" in agent["args"] and "--topic-prefix=sal/" in agent["args"]
    assert not any(a.startswith("--gpio-driver") for a in agent["args"])
    assert "privileged" not in agent["securityContext"] and "supplementalGroups" not in pod["securityContext"]
    assert [v["name"] for v in pod["volumes"]] == ["mqtt-password"]


# -- the programs accept what the chart passes --------------------------------------------

HEALTH_OPTIONS = ("--http-port=",)


def _as_started(container: Manifest, node: str) -> list[str]:
    """The container's arguments after Kubernetes' $(NODE_NAME) expansion, minus the module."""
    return [str(a).replace("$(NODE_NAME)", node) for a in container["args"][1:]]


def _both(helm: Helm) -> tuple[Manifest, Manifest]:
    rendered = helm.template(CHART, "agent.enabled=true", "bus.topicPrefix=sal/", "watcher.namespaces={default}",
                             "agent.device=json")
    return (container_of(rendered.one("DaemonSet", "shinealight-watcher"), "watcher"),
            container_of(rendered.one("DaemonSet", "shinealight-agent"), "agent"))


def test_rendered_arguments_are_accepted_by_the_programs(helm: Helm) -> None:
    from bus.urls import parse_broker_url
    from led_agent.cli import build_parser as agent_parser
    from watcher.cli import build_parser as watcher_parser

    watcher, agent = _both(helm)
    parsed = watcher_parser().parse_args(_as_started(watcher, "node-1"))
    assert (parsed.node, parsed.topic_prefix, parsed.namespaces) == ("node-1", "sal/", ["default"])
    parsed = agent_parser().parse_args(_as_started(agent, "node-1"))
    assert (parsed.nodes, parsed.agent_id, parsed.device, parsed.topic_prefix) == (["node-1"], "node-1", "json", "sal/")
    url = parse_broker_url(str(env_of(agent)["MQTT_URL"]))
    assert (url.username, url.password, url.host, url.port) == (None, None, BROKER, 1883)


def test_health_options_are_the_shells(helm: Helm) -> None:
    import argparse

    from bus.shell import add_health_options

    parser = argparse.ArgumentParser()
    add_health_options(parser)
    for container in _both(helm):
        health = [a for a in _as_started(container, "n") if a.startswith(HEALTH_OPTIONS)]
        assert parser.parse_args(health).http_port == 8080


def test_programs_accept_the_health_port(helm: Helm) -> None:
    from led_agent.cli import build_parser as agent_parser
    from watcher.cli import build_parser as watcher_parser

    watcher, agent = _both(helm)
    assert watcher_parser().parse_args(_as_started(watcher, "n")).http_port == 8080
    assert agent_parser().parse_args(_as_started(agent, "n")).http_port == 8080
