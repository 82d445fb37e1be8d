"""Who may do what in the online store: ElastiCache RBAC users and their access strings.

An access string is a Valkey/Redis ACL rule list (``on``, key patterns, command categories).
The platform's clients authenticate as the group's ``default`` user with the rotated password
in Secrets Manager (what ``AUTH <password>`` without a user name means); every feature team's
workload is a user of its own, authenticated by IAM (``elasticache:Connect`` on its user,
granted to its Pod Identity role only), confined to its feature sets' key prefixes.

What a team's string keeps out (each proven against a real server by
``tests/test_tenant_cache_isolation.py``):

* other keys: only ``~<tenant>:<prefix>:*`` patterns, read-only (``%R~``) for feature sets the
  workload only reads;
* keyless commands that would list or sample other teams' keys (``SCAN``, ``KEYS``,
  ``RANDOMKEY``) and the key count (``DBSIZE``): a key pattern does not confine them;
* commands that reach keys the ACL does not check at the command: scripts and functions
  (a script may touch keys it did not declare), ``SORT``'s ``BY``/``GET`` patterns;
* client-side caching in broadcast mode (``CLIENT TRACKING ... BCAST``), whose invalidations
  name every key written, whoever wrote it;
* pub/sub (``resetchannels``: no channel), administration and ``@dangerous`` commands.

Commands ElastiCache does not offer at all (``MIGRATE``, ``CONFIG``, ...) are never named: an
access string that names a restricted command is refused by CreateUser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config loader imports this module to count the users
    from components.config.tenants import TenantSpec

DEFAULT_USER_NAME = "default"
"""ElastiCache requires a user named ``default`` in every user group; a client sending
``AUTH <password>`` without a user name authenticates as it."""
USER_ID_MAX_LENGTH = 40
"""Our own bound: the API documents the pattern ``[a-zA-Z][a-zA-Z0-9-]*`` and stores ids in
lower case (CreateUser, API reference); 40 matches the replication group id's limit."""
USER_ID_PREFIX = "fp-"
"""Every user of the platform's online stores: ``fp-<instance>-default`` and the teams'."""
HASH_LENGTH = 10

PLATFORM_ACCESS = "on ~* &* +@all -@dangerous"
"""The platform's clients (feature server, materializer, consistency probe): every key, no
administration. ``@dangerous`` holds ``KEYS``, ``FLUSHALL``, ``CONFIG``, ``DEBUG``, ``MONITOR``,
``CLIENT KILL`` and the like; none of them is part of serving or materializing features."""

_TEAM_COMMANDS_BASE = ("-@all", "+@read", "+@connection", "+@transaction")
_TEAM_WRITE = ("+@write",)
# Cluster clients learn the slot map before their first command; the subcommands are read-only.
_TEAM_CLUSTER = ("+cluster|slots", "+cluster|shards", "+cluster|myid", "+readonly", "+readwrite")
_TEAM_DENIED = (
    "-@dangerous",
    "-@admin",
    "-@scripting",
    "-@pubsub",
    "-scan",
    "-keys",
    "-randomkey",
    "-dbsize",
    "-sort",
    "-sort_ro",
    # Tracking in broadcast mode sends the client an invalidation for every key written,
    # whoever owns it: the names of other teams' keys.
    "-client|tracking",
)


def key_pattern(prefix: str, *, writable: bool) -> str:
    """``~<prefix>*`` (read and write) or ``%R~<prefix>*`` (read only)."""
    return f"{'~' if writable else '%R~'}{prefix}*"


def team_access_string(reads: Iterable[str], writes: Iterable[str]) -> str:
    """The access string of a workload reading and writing the given key prefixes.

    Prefixes end with ``:`` (``<tenant>:<prefix>:``), so ``ads:`` never matches ``ads-x:``.
    A prefix both read and written is writable once; the order is stable (diffs stay quiet).
    """
    writable = sorted(set(writes))
    read_only = sorted(set(reads) - set(writable))
    for prefix in (*writable, *read_only):
        if not prefix.endswith(":") or any(c in prefix for c in "*?[]\\ "):
            raise ValueError(f"key prefix {prefix!r} must end with ':' and hold no pattern")
    if not writable and not read_only:
        raise ValueError("a team user needs at least one key prefix")
    keys = [key_pattern(p, writable=True) for p in writable]
    keys += [key_pattern(p, writable=False) for p in read_only]
    commands = [*_TEAM_COMMANDS_BASE, *(_TEAM_WRITE if writable else ()), *_TEAM_CLUSTER]
    return " ".join(["on", "resetchannels", *keys, *commands, *_TEAM_DENIED])


def team_user_id(instance: str, tenant: str, workload: str) -> str:
    """``fp-<instance>-<tenant>-<hash>``: unique per stack, within the deployer's scope.

    Users are regional account objects, shared by dev and its review stacks, so the id starts
    with the stack's prefix (``fp-<instance>-``, the deployer's ``user/`` scope). Tenant and
    workload names contain ``-`` themselves and the tenant part may be cut to fit 40
    characters, so a hash of the three names decides uniqueness; the readable part only helps
    a human. The id is also the user name (IAM authentication requires both to be equal).
    """
    digest = hashlib.sha256(f"{instance}/{tenant}/{workload}".encode()).hexdigest()[:HASH_LENGTH]
    readable = f"{USER_ID_PREFIX}{instance}-{tenant}"
    readable = readable[: USER_ID_MAX_LENGTH - HASH_LENGTH - 1].rstrip("-")
    return f"{readable}-{digest}"


def default_user_id(instance: str) -> str:
    """The platform's ``default`` user of this stack (ids are unique per account and region)."""
    return f"{USER_ID_PREFIX}{instance}-default"


def user_group_id(instance: str, engine: str) -> str:
    """``fp-<instance>-online-<engine>``: a user group's engine is ForceNew, and a group in use
    cannot be deleted, so a new engine needs a group of a new name beside the old one."""
    return f"{USER_ID_PREFIX}{instance}-online-{engine}"


def user_arn(region: str, account_id: str, user_id: str) -> str:
    return f"arn:aws:elasticache:{region}:{account_id}:user:{user_id}"


def replication_group_arn(region: str, account_id: str, group_id: str) -> str:
    return f"arn:aws:elasticache:{region}:{account_id}:replicationgroup:{group_id}"


@dataclass(frozen=True)
class CacheUser:
    """One IAM-authenticated user of the online store (a team's workload)."""

    user_id: str
    """Also its user name: IAM authentication requires the two to be equal."""
    access_string: str
    tenant: str
    workload: str
    tags: Mapping[str, str] = field(default_factory=dict)


def team_cache_users(spec: TenantSpec, instance: str) -> dict[str, CacheUser]:
    """A user per workload of ``spec``: its feature sets' key prefixes, read or read-write."""
    users: dict[str, CacheUser] = {}
    for workload, me in spec.workloads.items():
        reads = [spec.feature_sets[name].online_key_prefix for name in me.reads]
        writes = [spec.feature_sets[name].online_key_prefix for name in me.writes]
        if not reads and not writes:
            continue
        users[workload] = CacheUser(
            user_id=team_user_id(instance, spec.name, workload),
            access_string=team_access_string(reads, writes),
            tenant=spec.name,
            workload=workload,
            tags=spec.tags(),
        )
    return users
