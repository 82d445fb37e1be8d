"""The online store's ACLs confine each team to its key prefixes, decided by a real server.

The access strings come from the plan (the ``aws:elasticache/user:User`` resources the
program registers for four teams, two of them a prefix of each other); a real ``redis-server``
(``blueprint.cacheacl``, Redis 7.0's ACL, the language ElastiCache's access strings are in)
decides every request. Which user a workload may *be* is the IAM side
(``tests/test_tenant_isolation.py``: ``elasticache:Connect`` on its own user only); this is
what that user may do once connected. A negative control widens one string and must fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from blueprint.cacheacl.client import Request, evaluate
from components.cache_access import team_user_id
from components.config.tenants import TenantSpec, TenantWorkloadSpec
from tests.conftest import stack_config
from tests.test_tenant_isolation import matrix_plan, tenant_specs

PLATFORM = "default"

# Commands no team may run, whatever its keys: they list, sample or count other teams' keys,
# reach keys the ACL does not check at the command, or administer the server.
KEYLESS_OR_ADMIN = (
    ("SCAN", "0"),
    ("SCAN", "0", "MATCH", "*"),
    ("KEYS", "*"),
    ("RANDOMKEY",),
    ("DBSIZE",),
    ("EVAL", "return redis.call('get', KEYS[1])", "0"),
    ("FCALL", "f", "0"),
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "GET", "*"),
    ("CLIENT", "LIST"),
    ("MONITOR",),
    ("INFO",),
    ("ACL", "LIST"),
    ("PUBLISH", "any", "m"),
    ("SUBSCRIBE", "any"),
    # Broadcast tracking: an invalidation for every key written, whoever owns it.
    ("CLIENT", "TRACKING", "ON", "BCAST"),
)
# What a client library needs to work at all: each team may run these.
CLIENT_BASICS = (
    ("PING",),
    ("HELLO", "3"),
    ("MULTI",),
    ("EXEC",),
    ("CLUSTER", "SLOTS"),
    ("CLUSTER", "SHARDS"),
    ("COMMAND",),  # a cluster client reads the command table at start
    ("READONLY",),
)


@dataclass(frozen=True)
class Case:
    label: str
    request: Request
    expected: bool


@dataclass(frozen=True)
class Store:
    specs: dict[str, TenantSpec]
    users: dict[str, str]
    """Access string by user name, as the plan registers them (the platform's is ``default``)."""
    user_of: dict[tuple[str, str], str]
    """The user name of each (tenant, workload)."""


@pytest.fixture(scope="module")
def store() -> Store:
    config = stack_config("dev")
    specs = tenant_specs()
    plan = matrix_plan()
    users = {
        str(u.inputs["userName"]): str(u.inputs["accessString"])
        for u in plan.of_type("aws:elasticache/user:User")
    }
    user_of = {
        (spec.name, workload): team_user_id(config.instance, spec.name, workload)
        for spec in specs
        for workload in spec.workloads
    }
    assert set(users) == {PLATFORM, *user_of.values()}
    return Store(specs={s.name: s for s in specs}, users=users, user_of=user_of)


def cases_for(store: Store, owner: TenantSpec, workload: str) -> Iterator[Case]:
    user = store.user_of[(owner.name, workload)]
    me = owner.workloads[workload]
    for spec in store.specs.values():
        own = spec.name == owner.name
        for fs in spec.feature_sets.values():
            key = f"{fs.online_key_prefix}entity-1"
            reads = own and (fs.name in me.reads or fs.name in me.writes)
            writes = own and fs.name in me.writes
            yield Case(f"get {key}", Request(user, ("GET", key)), reads)
            yield Case(f"hmget {key}", Request(user, ("HMGET", key, "f1")), reads)
            yield Case(f"hset {key}", Request(user, ("HSET", key, "f1", "v")), writes)
            yield Case(f"del {key}", Request(user, ("DEL", key)), writes)
            # A command naming an own key and another's is denied as a whole.
            yield Case(
                f"mget own and {key}",
                Request(user, ("MGET", f"{_own_prefix(owner, me)}x", key)),
                reads,
            )
    # The delimiter: a key that only starts with the team's name is not the team's.
    yield Case("get <tenant>x", Request(user, ("GET", f"{owner.name}x:1")), False)
    yield Case("get platform key", Request(user, ("GET", "feature-platform:registry")), False)
    for command in KEYLESS_OR_ADMIN:
        yield Case(" ".join(command), Request(user, command), False)
    for command in CLIENT_BASICS:
        yield Case(" ".join(command), Request(user, command), True)


def _own_prefix(owner: TenantSpec, me: TenantWorkloadSpec) -> str:
    """A key prefix the workload may read (every workload reads or writes one)."""
    return owner.feature_sets[(*me.reads, *me.writes)[0]].online_key_prefix


def violations(store: Store, users: dict[str, str] | None = None) -> list[str]:
    cases = [
        case
        for spec in store.specs.values()
        for workload in spec.workloads
        for case in cases_for(store, spec, workload)
    ]
    decisions = evaluate(users or store.users, [c.request for c in cases])
    return [
        f"{c.request.user}: {c.label}: allowed={d.allowed}, expected {c.expected} ({d.reason})"
        for c, d in zip(cases, decisions, strict=True)
        if d.allowed != c.expected
    ]


def test_each_team_user_reaches_its_own_keys_and_nothing_else(store: Store) -> None:
    assert violations(store) == []


def test_the_matrix_holds_positives_for_every_team(store: Store) -> None:
    """A matrix of denials passes for users that may do nothing: every user has allowed
    requests among its cases, and they were decided allowed."""
    for spec in store.specs.values():
        for workload in spec.workloads:
            cases = [c for c in cases_for(store, spec, workload) if c.expected]
            assert any(c.label.startswith("get ") for c in cases), (spec.name, workload)
            assert all(d.allowed for d in evaluate(store.users, [c.request for c in cases]))


def test_a_widened_access_string_fails_the_matrix(store: Store) -> None:
    """Negative control: the prefix without its delimiter (``~ads*``) reaches ``ads-ranking``."""
    user = store.user_of[("ads", "bidder")]
    widened = dict(store.users)
    widened[user] = re.sub(r"%R~ads:\S*", "%R~ads*", widened[user])
    assert widened[user] != store.users[user]
    problems = violations(store, widened)
    assert problems, "the widened string went unnoticed: the matrix cannot fail"
    assert all(p.startswith(f"{user}: ") for p in problems)
    assert any("ads-ranking:" in p for p in problems), problems


def test_a_string_without_the_keyless_denials_fails_the_matrix(store: Store) -> None:
    """Negative control: key patterns alone do not confine SCAN, which lists every key."""
    user = store.user_of[("search", "ranker")]
    loosened = dict(store.users)
    loosened[user] = loosened[user].replace(" -scan", "")
    problems = violations(store, loosened)
    assert any(p.startswith(f"{user}: SCAN 0") for p in problems), problems


def test_a_string_that_lets_a_team_track_every_key_fails_the_matrix(store: Store) -> None:
    """Negative control: ``+@connection`` grants ``CLIENT TRACKING``, which must be taken back."""
    user = store.user_of[("recommendations", "serving")]
    loosened = dict(store.users)
    loosened[user] = loosened[user].replace(" -client|tracking", "")
    problems = violations(store, loosened)
    assert any(p.startswith(f"{user}: CLIENT TRACKING ON BCAST") for p in problems), problems


def test_the_platform_user_reads_every_team_but_administers_nothing(store: Store) -> None:
    keys = [
        fs.online_key_prefix + "entity-1"
        for spec in store.specs.values()
        for fs in spec.feature_sets.values()
    ]
    allowed = [Request(PLATFORM, ("HSET", key, "f", "v")) for key in keys]
    allowed += [Request(PLATFORM, ("HMGET", key, "f")) for key in keys]
    denied = [Request(PLATFORM, c) for c in (("FLUSHALL",), ("KEYS", "*"), ("CONFIG", "GET", "*"))]
    decisions = evaluate(store.users, [*allowed, *denied])
    assert [d.allowed for d in decisions] == [True] * len(allowed) + [False] * len(denied)
