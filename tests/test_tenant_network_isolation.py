"""Tenant network isolation, decided by np-guard's network-config-analyzer on the dev plan's
rendered manifests (two teams, ``search`` and ``recommendations``), from its own environment
as ``make netpol`` builds it.

Every assertion reads the analyzer's connectivity map, never the manifests' text; the
negative controls prove the checking function reports a leak when the policies let one
through. The reader's side (parsing, the missing environment) is tested without the analyzer.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from blueprint.checkov import manifests
from blueprint.netpol.client import (
    ALL,
    ConnectivityMap,
    NetpolError,
    analyze,
    describe,
    parse,
    port,
)
from blueprint.netpol.environment import NetpolUnavailableError
from tests.conftest import stack_plan

TEAMS = ("search", "recommendations")
FEATURE_SERVING = "feature-serving"
MONITORING = "monitoring"
PLATFORM = (FEATURE_SERVING, "materialization", "ingestion", MONITORING)
FEATURE_SERVER = frozenset({port("tcp/6566")})
SCRAPE_PORTS = frozenset({port("tcp/9464"), port("tcp/8080")})

Documents = dict[str, dict[str, Any]]


def isolation_leaks(
    cmap: ConnectivityMap, teams: tuple[str, ...] = TEAMS, platform: tuple[str, ...] = PLATFORM
) -> list[str]:
    """Every way the analyzer's map breaks tenant isolation, one line each; empty when none."""
    leaks = []

    def expect(src: str, dst: str, allowed: frozenset[Any], *, required: bool = False) -> None:
        got = cmap.connections(src, dst)
        if got == ALL or not got <= allowed or (required and not got):
            leaks.append(f"{src} -> {dst}: {describe(got)} (allowed: {describe(allowed)})")

    for team in teams:
        for other in teams:
            if other != team:
                expect(team, other, frozenset())
        for namespace in platform:
            expect(team, namespace, FEATURE_SERVER if namespace == FEATURE_SERVING else frozenset())
            expect(namespace, team, SCRAPE_PORTS if namespace == MONITORING else frozenset())
        # The team's own clients must work, and scrapes must reach it: a map that allows
        # nothing is not an isolated platform, it is a broken one.
        expect(team, FEATURE_SERVING, FEATURE_SERVER, required=True)
        expect(MONITORING, team, SCRAPE_PORTS, required=True)
    return leaks


def dev_documents() -> Documents:
    return {k: dict(v) for k, v in manifests.render(stack_plan("dev")).documents.items()}


@pytest.fixture(scope="module")
def dev_map() -> ConnectivityMap:
    return analyze(dev_documents())


def network_policy(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podSelector": {}, **spec},
    }


def with_policies(documents: Documents, *policies: dict[str, Any]) -> Documents:
    added = {f"999-{p['metadata']['namespace']}-{p['metadata']['name']}.yaml": p for p in policies}
    return {**documents, **added}


ALLOW_ALL_EGRESS = {"policyTypes": ["Egress"], "egress": [{}]}
ALLOW_ALL_INGRESS = {"policyTypes": ["Ingress"], "ingress": [{}]}


@pytest.mark.netpol
def test_dev_teams_are_isolated(dev_map: ConnectivityMap) -> None:
    assert isolation_leaks(dev_map) == []


@pytest.mark.netpol
@pytest.mark.parametrize(("team", "other"), [TEAMS, TEAMS[::-1]])
def test_a_team_reaches_no_pod_of_another_team(
    dev_map: ConnectivityMap, team: str, other: str
) -> None:
    assert dev_map.connections(team, other) == frozenset()


@pytest.mark.netpol
@pytest.mark.parametrize("team", TEAMS)
@pytest.mark.parametrize("platform", ["materialization", "ingestion", MONITORING])
def test_a_team_reaches_no_platform_pod_but_the_feature_server(
    dev_map: ConnectivityMap, team: str, platform: str
) -> None:
    assert dev_map.connections(team, platform) == frozenset()


@pytest.mark.netpol
@pytest.mark.parametrize("team", TEAMS)
def test_a_team_reaches_the_feature_server_on_its_port_only(
    dev_map: ConnectivityMap, team: str
) -> None:
    assert dev_map.connections(team, FEATURE_SERVING) == FEATURE_SERVER


@pytest.mark.netpol
@pytest.mark.parametrize("team", TEAMS)
def test_monitoring_scrapes_team_pods_on_metrics_ports_only(
    dev_map: ConnectivityMap, team: str
) -> None:
    scraped = dev_map.connections(MONITORING, team)
    assert scraped != ALL and scraped and scraped <= SCRAPE_PORTS
    for platform in ("materialization", "ingestion", FEATURE_SERVING):
        assert dev_map.connections(platform, team) == frozenset()


@pytest.mark.netpol
def test_teams_reach_kube_dns_on_port_53_only(dev_map: ConnectivityMap) -> None:
    for team in TEAMS:
        assert dev_map.connections(team, "kube-system") == frozenset(
            {port("udp/53"), port("tcp/53")}
        )


@pytest.mark.netpol
def test_isolation_holds_with_a_teams_egress_wide_open() -> None:
    """The destinations' ingress policies alone keep ``search`` out. That matters on EKS: with
    the VPC CNI pod IPs are VPC IPs, and a CNI may match them against the 443 egress to the
    VPC CIDR, which the analyzer (like the Kubernetes API) treats as outside the cluster."""
    cmap = analyze(
        with_policies(dev_documents(), network_policy("search", "allow-all", ALLOW_ALL_EGRESS))
    )
    assert cmap.connections("search", "recommendations") == frozenset()
    assert cmap.connections("search", FEATURE_SERVING) == FEATURE_SERVER
    for platform in ("materialization", "ingestion", MONITORING):
        assert cmap.connections("search", platform) == frozenset()


@pytest.mark.netpol
def test_negative_control_allow_all_policies_are_reported_as_leaks() -> None:
    documents = with_policies(
        dev_documents(),
        *(
            network_policy(team, f"allow-all-{direction.lower()}", spec)
            for team in TEAMS
            for direction, spec in (("Egress", ALLOW_ALL_EGRESS), ("Ingress", ALLOW_ALL_INGRESS))
        ),
    )
    cmap = analyze(documents)
    leaks = isolation_leaks(cmap)
    assert cmap.connections("search", "recommendations") == ALL
    assert cmap.connections("recommendations", "search") == ALL
    # Exactly the cross-team pairs: the platform namespaces' own ingress and egress still
    # hold (materialization admits no team even when the team's egress is open).
    assert leaks == [
        "search -> recommendations: all protocols and ports (allowed: nothing)",
        "recommendations -> search: all protocols and ports (allowed: nothing)",
    ]


@pytest.mark.netpol
def test_negative_control_teams_without_policies_are_reported_as_leaks() -> None:
    """Without the teams' policies the cross-team pairs leak. Removing ``default-deny`` alone
    does not: the teams' allow policies select every pod for Ingress and Egress, so they
    isolate by themselves, and the default deny is defence in depth."""
    documents = {
        name: d
        for name, d in dev_documents().items()
        if not (d["kind"] == "NetworkPolicy" and d["metadata"]["namespace"] in TEAMS)
    }
    assert isolation_leaks(analyze(documents)) == [
        "search -> recommendations: all protocols and ports (allowed: nothing)",
        "recommendations -> search: all protocols and ports (allowed: nothing)",
    ]


@pytest.mark.netpol
def test_negative_control_a_narrow_cross_team_allow_is_a_leak() -> None:
    """One port, one direction: the check sees what a careless onboarding would add."""
    clients = {"feature-platform/client": "true"}
    search = {"feature-platform/tenant": "search"}
    documents = with_policies(
        dev_documents(),
        network_policy(
            "search",
            "to-recommendations",
            {
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"namespaceSelector": {"matchLabels": clients}}],
                        "ports": [{"protocol": "TCP", "port": 8080}],
                    }
                ],
            },
        ),
        network_policy(
            "recommendations",
            "from-search",
            {
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {"matchLabels": search}}],
                        "ports": [{"protocol": "TCP", "port": 8080}],
                    }
                ],
            },
        ),
    )  # fmt: skip
    leaks = isolation_leaks(analyze(documents))
    assert leaks == ["search -> recommendations: tcp/8080 (allowed: nothing)"]


@pytest.mark.netpol
def test_an_unknown_namespace_is_an_error_not_isolation(dev_map: ConnectivityMap) -> None:
    with pytest.raises(KeyError, match="serach"):
        dev_map.connections("serach", "recommendations")


def answer(*rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"query": "ConnectivityMapQuery", "explanation": [{"rules": list(rules)}]}]


def rule(connection: list[Any], src: str = "a", dst: str = "b") -> dict[str, Any]:
    return {"src_ns": [src], "src_pods": ["*"], "dst_ns": [dst], "dst_pods": ["*"],
            "connection": connection}  # fmt: skip


def test_rules_naming_the_same_pair_are_unioned() -> None:
    pairs = parse(
        answer(
            rule([{"protocols": "TCP, UDP", "dst_ports": [53]}]),
            rule([{"protocols": "TCP", "dst_ports": ["8000-8080"]}]),
            {"src_ip_block": ["0.0.0.0/0"], "dst_ns": ["b"], "dst_pods": ["*"],
             "connection": ["All connections"]},
        )
    )  # fmt: skip
    assert pairs == {("a", "b"): frozenset({port("tcp/53"), port("udp/53"), port("tcp/8000-8080")})}


def test_a_protocol_without_ports_is_every_port_and_all_connections_is_all() -> None:
    assert parse(answer(rule([{"protocols": "TCP"}]))) == {
        ("a", "b"): frozenset({port("tcp/1-65535")})
    }
    assert parse(answer(rule([{"protocols": "TCP"}]), rule(["All connections"]))) == {
        ("a", "b"): ALL
    }


@pytest.mark.parametrize(
    ("connection", "error"),
    [
        ([{"All but": [{"protocols": "TCP", "dst_ports": [22]}]}], "not read by this client"),
        ([{"protocols": "TCP", "src_ports": [1000]}], "dimensions not read here"),
        ([{"protocols": "ICMP"}], "ICMP has no ports"),
    ],
)
def test_answers_not_read_exactly_are_refused(connection: list[Any], error: str) -> None:
    with pytest.raises(NetpolError, match=error):
        parse(answer(rule(connection)))


def test_a_missing_environment_names_make_netpol(tmp_path: Path) -> None:
    with pytest.raises(
        NetpolUnavailableError, match=r"requirements\.lock is missing.*`make netpol`"
    ):
        analyze({}, project_dir=tmp_path)
