"""Target grammar and resolution, against a fake cluster view (pure logic)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from wiber_harness.scenario.targets import (
    All,
    AnyOne,
    ClusterView,
    Controller,
    GroupTarget,
    Index,
    Leader,
    LinksOf,
    LinkTarget,
    Minority,
    NodeTarget,
    Sole,
    TargetResolutionError,
    TargetSyntaxError,
    TopologyView,
    WorkloadTarget,
    client_links,
    parse,
    resolve,
)


@dataclass
class FakeView:
    """Three brokers, two consumers, one API; leaders and controller are settable."""

    leaders: dict[tuple[int, str | None], str] = field(
        default_factory=lambda: {
            (0, None): "kafka-2",
            (1, None): "kafka-3",
            (0, "other"): "kafka-1",
        }
    )
    controller: str = "kafka-3"
    consumers: int = 2
    apis: int = 1

    def node_names(self, role: str) -> list[str]:
        return TopologyView(3, self.consumers, self.apis).node_names(role)

    def links(self) -> list[str]:
        return TopologyView(3, self.consumers, self.apis).links()

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        return self.leaders[(partition, topic)]

    def kafka_controller(self) -> str:
        return self.controller


VIEW = FakeView()


def test_fake_and_topology_views_satisfy_the_protocol() -> None:
    assert isinstance(VIEW, ClusterView)
    assert isinstance(TopologyView(), ClusterView)


# --- parsing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "ast"),
    [
        ("kafka.1", NodeTarget("kafka", Index(1))),
        ("kafka.leader(partition=0)", NodeTarget("kafka", Leader(0))),
        (
            "kafka.leader( partition = 3 , topic = wiber.messages )",
            NodeTarget("kafka", Leader(3, "wiber.messages")),
        ),
        ("kafka.leader(topic='t-1', partition=2)", NodeTarget("kafka", Leader(2, "t-1"))),
        ("kafka.controller", NodeTarget("kafka", Controller())),
        ("kafka.random", NodeTarget("kafka", AnyOne())),
        ("kafka.any", NodeTarget("kafka", AnyOne())),
        ("kafka.minority", NodeTarget("kafka", Minority())),
        ("kafka.all", NodeTarget("kafka", All())),
        ("consumer.2", NodeTarget("consumer", Index(2))),
        ("consumer.any", NodeTarget("consumer", AnyOne())),
        ("consumer.all", NodeTarget("consumer", All())),
        ("api.1", NodeTarget("api", Index(1))),
        ("api.any", NodeTarget("api", AnyOne())),
        ("store", NodeTarget("store", Sole())),
        ("mongo", NodeTarget("store", Sole())),
        ("link(api, kafka.1)", LinkTarget("api", All(), NodeTarget("kafka", Index(1)))),
        ("link(kafka.1, api)", LinkTarget("api", All(), NodeTarget("kafka", Index(1)))),
        (
            "link(consumer, kafka.leader(partition=0))",
            LinkTarget("consumer", All(), NodeTarget("kafka", Leader(0))),
        ),
        ("link(consumer, kafka.all)", LinkTarget("consumer", All(), NodeTarget("kafka", All()))),
        ("link(consumer.1, store)", LinkTarget("consumer", Index(1), NodeTarget("store", Sole()))),
        (
            "link(consumer.any, mongo)",
            LinkTarget("consumer", AnyOne(), NodeTarget("store", Sole())),
        ),
        ("link(consumer, store)", LinkTarget("consumer", All(), NodeTarget("store", Sole()))),
        ("link(api, store)", LinkTarget("api", All(), NodeTarget("store", Sole()))),
        ("links(kafka.2)", LinksOf(NodeTarget("kafka", Index(2)))),
        ("links(store)", LinksOf(NodeTarget("store", Sole()))),
        ("links(consumer)", LinksOf(NodeTarget("consumer", All()))),
        ("links(api)", LinksOf(NodeTarget("api", All()))),
        ("workload", WorkloadTarget()),
        ("consumers", GroupTarget()),
    ],
)
def test_parse(spec: str, ast: object) -> None:
    assert parse(spec) == ast


@pytest.mark.parametrize(
    "spec",
    [
        "kafka.1",
        "kafka.leader(partition=0)",
        "kafka.leader(partition=1, topic=other)",
        "kafka.controller",
        "kafka.random",
        "kafka.minority",
        "kafka.all",
        "consumer.any",
        "api.all",
        "store",
        "link(api, kafka.1)",
        "link(consumer.1, store)",
        "link(consumer, store)",
        "links(kafka.leader(partition=0))",
        "links(consumer)",
        "workload",
        "consumers",
    ],
)
def test_str_is_canonical_and_round_trips(spec: str) -> None:
    t = parse(spec)
    assert str(t) == spec
    assert parse(str(t)) == t


def test_kinds() -> None:
    assert parse("kafka.1").kind == "process"
    assert parse("link(api, store)").kind == "link"
    assert parse("links(kafka.1)").kind == "link"
    assert parse("workload").kind == "workload"
    assert parse("consumers").kind == "group"


def test_ast_is_frozen_and_hashable() -> None:
    t = parse("kafka.leader(partition=0)")
    assert isinstance(t, NodeTarget)
    with pytest.raises(AttributeError):
        t.role = "api"  # type: ignore[misc]
    assert len({t, parse("kafka.leader(partition=0)")}) == 1


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "a target is required"),
        ("kafak.1", "did you mean 'kafka'"),
        ("kafka", "which broker?"),
        ("consumer", "which consumer?"),
        ("kafka.0", "start at 1"),
        ("kafka.leadr(partition=0)", "did you mean 'leader'"),
        ("kafka.leader", "the leader of which partition?"),
        ("kafka.leader(partiton=0)", "did you mean 'partition'"),
        ("kafka.leader(topic=x)", "partition= is required"),
        ("kafka.leader(partition=x)", "expected a partition number"),
        ("consumer.controller", "is not a selector"),
        ("store.1", "single node"),
        ("kafka.1 extra", "unexpected 'extra'"),
        ("link(api)", "expected ','"),
        ("link(api, consumer)", "joins a client"),
        ("link(kafka.1, kafka.2)", "isolate"),
        ("link(kafka.1, store)", "isolate"),
        ("link(consumer.1, kafka.1)", "share their links to Kafka; write link(consumer, kafka.1)"),
        ("link(api.1, store)", "write link(api, store)"),
        ("link(api, kafka)", "which broker?"),
        ("links(consumer.1)", "write links(consumer) or link(consumer.N, store)"),
        ("links(kafka)", "which broker?"),
        ("links(kafka.1", "expected ')'"),
    ],
)
def test_parse_errors_say_how_to_fix(spec: str, fragment: str) -> None:
    with pytest.raises(TargetSyntaxError) as e:
        parse(spec)
    assert fragment in str(e.value)


# --- resolution --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("kafka.1", ["kafka-1"]),
        ("kafka.3", ["kafka-3"]),
        ("kafka.leader(partition=0)", ["kafka-2"]),
        ("kafka.leader(partition=1)", ["kafka-3"]),
        ("kafka.leader(partition=0, topic=other)", ["kafka-1"]),
        ("kafka.controller", ["kafka-3"]),
        ("kafka.all", ["kafka-1", "kafka-2", "kafka-3"]),
        ("consumer.2", ["consumer-2"]),
        ("consumer.all", ["consumer-1", "consumer-2"]),
        ("api.all", ["api-1"]),
        ("store", ["store"]),
        ("link(api, kafka.2)", ["api-kafka-2"]),
        ("link(api, kafka.leader(partition=0))", ["api-kafka-2"]),
        ("link(consumer, kafka.leader(partition=1))", ["consumer-kafka-3"]),
        ("link(consumer, kafka.all)", ["consumer-kafka-1", "consumer-kafka-2", "consumer-kafka-3"]),
        ("link(consumer.1, store)", ["consumer-1-store"]),
        ("link(consumer, store)", ["consumer-1-store", "consumer-2-store"]),
        ("link(api, store)", ["api-store"]),
        ("links(kafka.2)", ["api-kafka-2", "consumer-kafka-2"]),
        ("links(kafka.controller)", ["api-kafka-3", "consumer-kafka-3"]),
        ("links(store)", ["api-store", "consumer-1-store", "consumer-2-store"]),
        ("links(api)", ["api-kafka-1", "api-kafka-2", "api-kafka-3", "api-store"]),
        (
            "links(consumer)",
            [
                "consumer-kafka-1",
                "consumer-kafka-2",
                "consumer-kafka-3",
                "consumer-1-store",
                "consumer-2-store",
            ],
        ),
        ("workload", ["workload"]),
        ("consumers", ["consumer-1", "consumer-2"]),
    ],
)
def test_resolve(spec: str, names: list[str]) -> None:
    assert resolve(spec, VIEW) == names
    assert resolve(parse(spec), VIEW) == names


def test_resolution_follows_the_view_at_call_time() -> None:
    view = FakeView()
    t = parse("kafka.leader(partition=0)")
    assert resolve(t, view) == ["kafka-2"]
    view.leaders[(0, None)] = "kafka-1"
    assert resolve(t, view) == ["kafka-1"]


def test_random_picks_are_seeded() -> None:
    t = parse("consumer.any")
    picks = [resolve(t, VIEW, random.Random(7))[0] for _ in range(5)]
    assert len(set(picks)) == 1
    rng = random.Random(1)
    seen = {resolve("kafka.random", VIEW, rng)[0] for _ in range(50)}
    assert seen == {"kafka-1", "kafka-2", "kafka-3"}
    assert resolve("kafka.random", VIEW) == resolve("kafka.random", VIEW)  # default rng is fixed


def test_minority_is_one_of_three() -> None:
    rng = random.Random(3)
    for _ in range(20):
        got = resolve("kafka.minority", VIEW, rng)
        assert len(got) == 1 and got[0] in {"kafka-1", "kafka-2", "kafka-3"}


def test_random_consumer_store_link() -> None:
    got = resolve("link(consumer.any, store)", VIEW, random.Random(0))
    assert got in (["consumer-1-store"], ["consumer-2-store"])


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("kafka.4", "only 3 kafka nodes; use kafka.1..kafka.3"),
        ("consumer.3", "only 2 consumer nodes"),
        ("api.2", "there is only 1 api node"),
        ("link(consumer.5, store)", "only 2 consumer nodes"),
    ],
)
def test_resolution_errors(spec: str, fragment: str) -> None:
    with pytest.raises(TargetResolutionError) as e:
        resolve(spec, VIEW)
    assert fragment in str(e.value)


def test_missing_link_is_an_error() -> None:
    class NoStoreLinks(FakeView):
        def links(self) -> list[str]:
            return [n for n in super().links() if not n.endswith("store")]

    with pytest.raises(TargetResolutionError, match="needs link api-store"):
        resolve("link(api, store)", NoStoreLinks())


def test_client_links_of_a_broker() -> None:
    assert client_links("kafka-1", VIEW) == ["api-kafka-1", "consumer-kafka-1"]


def test_topology_view_names_match_the_cluster_contract() -> None:
    v = TopologyView(brokers=3, consumers=2, apis=2)
    assert v.node_names("kafka") == ["kafka-1", "kafka-2", "kafka-3"]
    assert v.node_names("api") == ["api-1", "api-2"]
    assert v.node_names("store") == ["store"]
    assert sorted(v.links()) == sorted(
        [
            "api-kafka-1",
            "api-kafka-2",
            "api-kafka-3",
            "consumer-kafka-1",
            "consumer-kafka-2",
            "consumer-kafka-3",
            "api-store",
            "consumer-1-store",
            "consumer-2-store",
        ]
    )
