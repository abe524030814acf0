import pytest

from bus.topics import NodeTopic, TopicError, Topics, validate_node


def test_topic_names() -> None:
    topics = Topics()
    assert topics.pods("node-1") == "nodes/node-1/pods"
    assert topics.state("node-1") == "nodes/node-1/state"
    assert topics.status("node-1") == "nodes/node-1/status"
    assert topics.agent_status("pi-1") == "agents/pi-1/status"
    assert topics.agent_frame("pi-1") == "agents/pi-1/frame"
    assert topics.node_filter() == "nodes/+/+"


def test_prefix() -> None:
    topics = Topics("shinealight/")
    assert topics.pods("n") == "shinealight/nodes/n/pods"
    assert topics.parse("shinealight/nodes/n/state").kind is NodeTopic.STATE


@pytest.mark.parametrize("name", ["a+b", "a#", "a/b", "", "UPPER", "-lead", "x" * 254])
def test_bad_node_names_are_rejected(name: str) -> None:
    with pytest.raises(TopicError):
        validate_node(name)


@pytest.mark.parametrize("prefix", ["no-slash", "a/+/", "#/"])
def test_bad_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(TopicError):
        Topics(prefix)


@pytest.mark.parametrize("topic", ["nodes/n", "nodes/n/pods/x", "agents/a/status", "nodes/n/other", "nodes/A/pods"])
def test_parse_rejects_non_node_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        Topics().parse(topic)


def test_parse() -> None:
    parsed = Topics().parse("nodes/ip-10-0-0-1.ec2.internal/pods")
    assert (parsed.node, parsed.kind) == ("ip-10-0-0-1.ec2.internal", NodeTopic.PODS)
