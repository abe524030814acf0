import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.topics import (
    WATCHER_NODE_CHARS,
    NodeTopic,
    ParsedTopic,
    TopicError,
    Topics,
    agent_id_from,
    node_from_segment,
    node_segment,
    validate_agent_id,
    validate_node,
    watcher_id,
)


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


@pytest.mark.parametrize("prefix", ["no-slash", "a/+/", "#/", "shine.a.light/", "my lights/"])
def test_bad_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(TopicError):
        Topics(prefix)


@pytest.mark.parametrize("topic", ["nodes/n", "nodes/n/pods/x", "agents/a/status", "nodes/n/other", "nodes/A/pods"])
def test_parse_rejects_non_node_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        Topics().parse(topic)


def test_parse() -> None:
    parsed = Topics().parse("nodes/ip-10-0-0-1_ec2_internal/pods")
    assert (parsed.node, parsed.kind) == ("ip-10-0-0-1.ec2.internal", NodeTopic.PODS)


DOTTED = "ip-10-0-1-23.eu-west-1.compute.internal"


def test_dots_in_node_names_are_written_as_underscores_everywhere() -> None:
    topics = Topics("p/")
    segment = "ip-10-0-1-23_eu-west-1_compute_internal"
    assert node_segment(DOTTED) == segment
    assert [topics.pods(DOTTED), topics.state(DOTTED), topics.status(DOTTED), topics.node_filter(DOTTED)] == [
        f"p/nodes/{segment}/pods", f"p/nodes/{segment}/state", f"p/nodes/{segment}/status", f"p/nodes/{segment}/+"]
    assert all("." not in level for level in topics.pods(DOTTED).split("/"))


node_names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?){0,4}",
                           fullmatch=True)


@given(node_names, st.sampled_from(list(NodeTopic)))
def test_the_mapping_is_reversible(node: str, kind: NodeTopic) -> None:
    topics = Topics("shinealight/")
    assert topics.parse(topics.node(node, kind)) == ParsedTopic(node, kind)
    assert node_from_segment(node_segment(node)) == node


@pytest.mark.parametrize("segment", ["a.b", "a__b", "_a", "a_", "A", "a+b", ""])
def test_levels_that_no_node_maps_to_are_rejected(segment: str) -> None:
    with pytest.raises(TopicError):
        node_from_segment(segment)


def test_a_dotted_level_says_what_publishers_must_do() -> None:
    with pytest.raises(TopicError, match="write a node name's dots as '_'"):
        Topics().parse(f"nodes/{DOTTED}/pods")


@pytest.mark.parametrize("agent_id", ["pi.kitchen", "a b", "", "-x", "x" * 129, "a/b"])
def test_agent_ids_cannot_hold_dots_or_separators(agent_id: str) -> None:
    with pytest.raises(TopicError):
        validate_agent_id(agent_id)


def test_a_user_given_agent_id_writes_dots_as_underscores() -> None:
    assert agent_id_from(DOTTED) == "ip-10-0-1-23_eu-west-1_compute_internal"
    with pytest.raises(TopicError):
        agent_id_from("a b")


def test_watcher_ids_are_short_topic_safe_client_ids() -> None:
    assert watcher_id(DOTTED, "abcd1234") == "watcher-ip-10-0-1-23_eu-west-1_compute_internal-abcd1234"
    assert watcher_id(None, "t") == "watcher-all-t"
    long = watcher_id("x" * 253, "abcd1234")
    assert len(long) <= 8 + WATCHER_NODE_CHARS + 9 and validate_agent_id(long) == long
