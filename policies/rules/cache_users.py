"""ElastiCache RBAC users: how a user authenticates and what its access string may grant.

An access string is a Valkey/Redis ACL rule list read left to right (https://valkey.io/topics/acl/):
a later ``+@read`` grants again what an earlier ``-scan`` denied, so a denial counts only where
no later rule grants the command back. These policies judge the string's shape; which commands
a string really allows is decided by a real server in ``blueprint/cacheacl`` (tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from ._base import Config, Props, Severity, as_map, get, is_true, platform, resource_policy

USER_TYPE = "aws:elasticache/user:User"

KEY_PATTERN = re.compile(r"^(?:%(?:R|W|RW)~|~)(?P<pattern>.*)$", re.IGNORECASE)
"""``~p``, ``%R~p``, ``%W~p``, ``%RW~p``: a key pattern (read-write, read, write)."""
GLOB = re.compile(r"[*?\[\\]")
GRANT_ALL = frozenset({"allcommands", "+@all"})
DENY_ALL = frozenset({"nocommands", "-@all"})

TEAM_DENIED_CATEGORIES = ("dangerous", "scripting")
"""Categories a team's user must deny: administration, and scripts (which reach keys they do
not declare)."""
TEAM_DENIED_COMMANDS: dict[str, frozenset[str]] = {
    # command -> its ACL categories in Valkey/Redis 7 (COMMAND INFO)
    "scan": frozenset({"keyspace", "read", "slow"}),
    "randomkey": frozenset({"keyspace", "read", "slow"}),
    "keys": frozenset({"keyspace", "read", "slow", "dangerous"}),
}
"""Keyless commands that list or sample other teams' keys: a key pattern does not confine
them, so they must be denied by name (``KEYS`` also by ``-@dangerous``)."""
TEAM_DENIED_SUBCOMMANDS: dict[str, frozenset[str]] = {
    # CLIENT TRACKING ... BCAST: invalidations name every key written, whoever wrote it.
    "client|tracking": frozenset({"connection", "slow"}),
}
SELECTOR = re.compile(r"[()]|^clearselectors$", re.IGNORECASE)
"""Selectors (``(~* +@all)``) grant a second set of permissions beside the root one: a team's
string holds none, so each of its rules is judged here."""


def rules_of(access_string: str) -> list[str]:
    return access_string.split()


def _effect(rule: str, command: str, categories: frozenset[str]) -> str | None:
    """``+``/``-`` when ``rule`` grants or denies ``command``, else None."""
    low = rule.lower()
    if low in GRANT_ALL:
        return "+"
    if low in DENY_ALL:
        return "-"
    if low[:1] not in "+-" or "|" in low:  # a subcommand rule leaves the command alone
        return None
    name = low[1:]
    if name == command or (name.startswith("@") and name[1:] in categories):
        return low[0]
    return None


def _last(rules: Sequence[str], decides: Callable[[str], bool]) -> str | None:
    """The last rule (lower case) that ``decides``: rules are read left to right."""
    last = None
    for rule in rules:
        low = rule.lower()
        if decides(low):
            last = low
    return last


def denied_explicitly(rules: Sequence[str], command: str, categories: frozenset[str]) -> bool:
    """The last rule deciding ``command`` denies it, by name or by ``-@dangerous``."""
    last = _last(rules, lambda low: _effect(low, command, categories) is not None)
    explicit = {f"-{command}"} | ({"-@dangerous"} if "dangerous" in categories else set())
    return last in explicit


def subcommand_denied(rules: Sequence[str], subcommand: str, categories: frozenset[str]) -> bool:
    """The last rule deciding ``command|sub`` denies it (by itself or by its whole command)."""
    command = subcommand.split("|", 1)[0]

    def decides(low: str) -> bool:
        name = low[1:]
        named = name in (subcommand, command) or (name[:1] == "@" and name[1:] in categories)
        return low in GRANT_ALL or low in DENY_ALL or (low[:1] in "+-" and named)

    return _last(rules, decides) in (f"-{subcommand}", f"-{command}")


def category_denied(rules: Sequence[str], category: str) -> bool:
    """``-@<category>`` and no later rule granting the whole category back."""
    mine = (f"+@{category}", f"-@{category}")
    return _last(rules, lambda low: low in GRANT_ALL or low in mine) == f"-@{category}"


def _tenant(props: Props) -> str | None:
    tenant = as_map(props.get("tags")).get("tenant")
    return tenant if isinstance(tenant, str) and tenant else None


# --- cache-team-users-confined ---------------------------------------------------------------


def team_user_problems(props: Props, config: Config) -> Iterator[str]:
    tenant = _tenant(props)
    if tenant is None:
        return
    if get(props, "authenticationMode.type") != "iam":
        yield (
            f"team {tenant!r}'s user does not authenticate by IAM "
            f"(`authenticationMode.type` is {get(props, 'authenticationMode.type')!r})"
        )
    access = props.get("accessString")
    if not isinstance(access, str):
        return  # unknown in preview: judged when known
    rules = rules_of(access)
    low = [r.lower() for r in rules]
    if not low or low[0] != "on" or "off" in low:
        yield "`accessString` does not start with `on` (or turns the user `off`)"
    for rule in rules:
        match = KEY_PATTERN.match(rule)
        if match is None:
            continue
        pattern = match["pattern"]
        head = pattern[: len(tenant) + 1]
        if head != f"{tenant}:" or GLOB.search(head):
            yield f"`accessString` key pattern {rule!r} is outside `{tenant}:`"
    for word in ("allkeys", "allchannels", "allcommands", "+@all"):
        if word in low:
            yield f"`accessString` grants `{word}`"
    if "resetchannels" not in low:
        yield "`accessString` lacks `resetchannels` (channels are not reset)"
    channels = [r for r in rules if r.startswith("&")]
    if channels:
        yield f"`accessString` grants channel patterns {channels}"
    for category in TEAM_DENIED_CATEGORIES:
        if not category_denied(rules, category):
            yield f"`accessString` does not deny `@{category}` (`-@{category}` last)"
    for command, categories in TEAM_DENIED_COMMANDS.items():
        if not denied_explicitly(rules, command, categories):
            yield f"`accessString` does not deny `{command}` after the rules that grant it"
    for subcommand, categories in TEAM_DENIED_SUBCOMMANDS.items():
        if not subcommand_denied(rules, subcommand, categories):
            yield f"`accessString` does not deny `{subcommand}` after the rules that grant it"
    selectors = [r for r in rules if SELECTOR.search(r)]
    if selectors:
        yield f"`accessString` holds selectors {selectors}: a second set of permissions"


resource_policy(
    "cache-team-users-confined",
    description="A feature team's ElastiCache user authenticates by IAM and reaches only its "
    "own keys: no channels, no scripts, no dangerous or key-listing commands.",
    severity=Severity.HIGH,
    refs=(platform("TEN-3"),),
    remediation="Build a team's user with `components.cache_access.team_cache_users`: "
    "`authentication_mode={'type': 'iam'}`, an access string from `team_access_string` "
    "(`on resetchannels ~<tenant>:<prefix>:* ... -@dangerous -@scripting -scan -randomkey`).",
    types=(USER_TYPE,),
    check=team_user_problems,
)


# --- cache-users-authenticated ---------------------------------------------------------------


def authenticated_problems(props: Props, config: Config) -> Iterator[str]:
    if is_true(props.get("noPasswordRequired")):
        yield "`noPasswordRequired` is true: anyone who reaches the port is this user"
    if get(props, "authenticationMode.type") == "no-password-required":
        yield "`authenticationMode.type` is no-password-required"
    access = props.get("accessString")
    if not isinstance(access, str):
        return
    low = [r.lower() for r in rules_of(access)]
    if "nopass" in low:
        yield "`accessString` holds `nopass`"
    grants = [i for i, r in enumerate(low) if r in GRANT_ALL]
    if grants and "-@dangerous" not in low[grants[-1] + 1 :]:
        yield f"`accessString` grants `{low[grants[-1]]}` without a later `-@dangerous`"


resource_policy(
    "cache-users-authenticated",
    description="No ElastiCache user is passwordless, and a user granted every command still "
    "has the dangerous ones denied.",
    severity=Severity.HIGH,
    refs=(platform("ELASTICACHE.TLS_CMK_AUTH_MULTIAZ"),),
    remediation="Give the user a password (`passwords_wo` with `passwords_wo_version`, rotated "
    "by Secrets Manager) or `authentication_mode={'type': 'iam'}`; never `no_password_required`"
    " or `nopass`; follow `+@all` with `-@dangerous` (`components.cache_access.PLATFORM_ACCESS`).",
    types=(USER_TYPE,),
    check=authenticated_problems,
)
