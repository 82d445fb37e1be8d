"""ElastiCache replication groups: ``modifying`` and the AUTH tokens a group accepts.

Sources (AWS documentation):

* ModifyReplicationGroup, API reference
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html
  - ``AuthToken``: printable ASCII, 16-128 characters, none of ``/ " @ %``;
  - ``AuthTokenUpdateStrategy``: ``ROTATE`` (the default when a token is given), ``SET``
    ("allowed only after ROTATE"), ``DELETE`` ("allowed only when transitioning to RBAC");
  - error ``InvalidReplicationGroupState``: "The requested replication group is not in the
    available state" (HTTP 400).
* Authenticating with the Valkey and Redis OSS AUTH command, User Guide
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html
  - AUTH only on groups with encryption in transit; ``ROTATE`` adds the new token beside
    the current one (both accepted), ``SET`` leaves the new token as the only one.

What the model decides where AWS does not say (each the stricter reading, so code that
passes here does not rely on leniency):

* A change applies when the group leaves ``modifying``: until then it accepts the tokens it
  accepted before (AWS does not say when during ``modifying`` a token starts to work).
* ``SET`` needs a token the group already accepts (our reading of "allowed only after
  ROTATE"); ``ROTATE`` refuses a third token (the group holds at most two).
* ``ApplyImmediately=False`` waits for a maintenance window the model never reaches.
* The User Guide restricts symbols further (only ``! & # $ ^ < > -``); the model follows the
  API reference and additionally refuses a space. The platform's generator uses the
  stricter set anyway.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.elasticache.exceptions import ElastiCacheException
from moto.elasticache.models import ElastiCacheBackend, ReplicationGroup, elasticache_backends
from moto.elasticache.responses import ElastiCacheResponse

from blueprint.local.models.base import AwsError, Durations

AVAILABLE = "available"
MODIFYING = "modifying"
AUTH_TOKEN_MIN_LENGTH = 16
AUTH_TOKEN_MAX_LENGTH = 128
AUTH_TOKEN_FORBIDDEN = frozenset(' "/@%')
"""API reference: not ``/ " @ %``; a space is not a "printable character" of the User Guide."""
MAX_AUTH_TOKENS = 2
STRATEGIES = ("ROTATE", "SET", "DELETE")
DEFAULT_STRATEGY = "ROTATE"


def auth_token_problem(token: str) -> str | None:
    """Why ElastiCache would refuse ``token`` as an AUTH token, or None."""
    if not AUTH_TOKEN_MIN_LENGTH <= len(token) <= AUTH_TOKEN_MAX_LENGTH:
        return (
            f"AuthToken must be {AUTH_TOKEN_MIN_LENGTH}-{AUTH_TOKEN_MAX_LENGTH} characters, "
            f"not {len(token)}"
        )
    # printable ASCII is "!" to "~"; whitespace and control characters fall outside it
    bad = sorted({c for c in token if not "!" <= c <= "~" or c in AUTH_TOKEN_FORBIDDEN})
    if bad:
        return f"AuthToken contains characters ElastiCache refuses: {''.join(bad)!r}"
    return None


@dataclass(frozen=True)
class Modification:
    """The parts of one ModifyReplicationGroup that pass the group through ``modifying``."""

    auth_token: str | None = None
    strategy: str | None = None
    engine_version: str | None = None
    parameter_group: str | None = None
    user_group_ids_to_add: tuple[str, ...] = ()

    @property
    def touches_auth(self) -> bool:
        return self.auth_token is not None or self.strategy is not None

    @property
    def is_change(self) -> bool:
        return self.touches_auth or bool(self.engine_version or self.parameter_group)


@dataclass
class ReplicationGroupModel:
    """One replication group's state machine: ``available`` <-> ``modifying``."""

    group_id: str
    transit_encryption: bool
    durations: Durations
    tokens: list[str] = field(default_factory=list)
    """Tokens the group accepts now, oldest first."""
    tokens_known: bool = True
    """False for a group created before the models were installed (moto keeps no token)."""
    status: str = AVAILABLE
    describes_left: int = 0
    """Describe calls that will still see ``modifying`` (the virtual clock)."""
    pending: Modification | None = None
    deferred: list[Modification] = field(default_factory=list)
    """Accepted with ApplyImmediately=False: waiting for a maintenance window."""
    requested: list[Modification] = field(default_factory=list)
    """Every change accepted by ModifyReplicationGroup, in order."""
    applied: list[Modification] = field(default_factory=list)
    """Every change that completed, in order (what a test asks "how often was X done")."""
    seen: list[str] = field(default_factory=list)
    """The status each describe reported, in order (what the clients watching it saw)."""
    engine_version: str | None = None
    parameter_group: str | None = None

    def accepts(self, token: str) -> bool:
        """Whether a client presenting ``token`` to AUTH would be let in."""
        return token in self.tokens

    def modify(self, change: Modification, *, apply_immediately: bool) -> None:
        """ModifyReplicationGroup: refused unless ``available``; a change starts ``modifying``."""
        if self.status != AVAILABLE:
            raise AwsError(
                "InvalidReplicationGroupState",
                f"Replication group {self.group_id} is not in available state "
                f"(it is {self.status}).",
            )
        self._check(change)
        if not change.is_change:
            return
        self.requested.append(change)
        if not apply_immediately:
            self.deferred.append(change)
            return
        self.status = MODIFYING
        self.pending = change
        self.describes_left = self.durations.next()

    def describe(self) -> str:
        """One DescribeReplicationGroups call: the clock ticks, a finished change applies."""
        if self.status == MODIFYING:
            if self.describes_left > 0:
                self.describes_left -= 1
            else:
                self._complete()
        self.seen.append(self.status)
        return self.status

    def _check(self, change: Modification) -> None:
        if not change.touches_auth:
            return
        strategy = change.strategy or DEFAULT_STRATEGY
        if strategy not in STRATEGIES:
            raise AwsError("InvalidParameterValue", f"AuthTokenUpdateStrategy {strategy!r}")
        if strategy == "DELETE":
            self._check_delete(change)
            return
        if change.auth_token is None:
            raise AwsError(
                "InvalidParameterCombination",
                f"AuthTokenUpdateStrategy {strategy} must be specified with AuthToken",
            )
        if not self.transit_encryption:
            raise AwsError(
                "InvalidParameterCombination",
                "AuthToken can only be used on a group with TransitEncryptionEnabled",
            )
        problem = auth_token_problem(change.auth_token)
        if problem:
            raise AwsError("InvalidParameterValue", problem)
        if strategy == "SET" and not self.accepts(change.auth_token):
            raise AwsError(
                "InvalidParameterValue",
                "AuthTokenUpdateStrategy SET is allowed only after ROTATE of the same token",
            )
        if (
            strategy == "ROTATE"
            and change.auth_token not in self.tokens
            and len(self.tokens) >= MAX_AUTH_TOKENS
        ):
            raise AwsError(
                "InvalidParameterValue",
                f"the group already accepts {MAX_AUTH_TOKENS} AUTH tokens; SET one first",
            )

    def _check_delete(self, change: Modification) -> None:
        if change.auth_token is not None:
            raise AwsError("InvalidParameterCombination", "AuthToken must be omitted with DELETE")
        if not change.user_group_ids_to_add:
            raise AwsError(
                "InvalidParameterCombination",
                "AuthTokenUpdateStrategy DELETE is allowed only when moving to RBAC "
                "(UserGroupIdsToAdd)",
            )

    def _complete(self) -> None:
        change = self.pending
        self.status, self.pending = AVAILABLE, None
        if change is None:
            return
        if change.touches_auth:
            strategy = change.strategy or DEFAULT_STRATEGY
            token = change.auth_token
            if strategy == "ROTATE" and token is not None and token not in self.tokens:
                self.tokens.append(token)
            elif strategy == "SET" and token is not None:
                self.tokens = [token]
            elif strategy == "DELETE":
                self.tokens = []
        self.engine_version = change.engine_version or self.engine_version
        self.parameter_group = change.parameter_group or self.parameter_group
        self.applied.append(change)


# --- moto adapter ------------------------------------------------------------------------

_MODELS: weakref.WeakKeyDictionary[ReplicationGroup, ReplicationGroupModel] = (
    weakref.WeakKeyDictionary()
)
_DurationsFactory = Callable[[], Durations]


def model_of(group: ReplicationGroup, durations: _DurationsFactory) -> ReplicationGroupModel:
    """The model of a moto group; one made before the models were installed starts with
    unknown tokens (moto does not keep them), so it accepts none."""
    if group not in _MODELS:
        _MODELS[group] = ReplicationGroupModel(
            group_id=group.replication_group_id,
            transit_encryption=bool(group.transit_encryption_enabled),
            durations=durations(),
            engine_version=group.engine_version,
            parameter_group=group.cache_parameter_group_name,
            tokens_known=False,
        )
    return _MODELS[group]


def find(
    group_id: str, *, region: str, account_id: str, durations: _DurationsFactory
) -> ReplicationGroupModel:
    backend: ElastiCacheBackend = elasticache_backends[account_id][region]
    (group,) = backend.describe_replication_groups(group_id)
    return model_of(group, durations)


def _error(refusal: AwsError) -> ElastiCacheException:
    return ElastiCacheException(refusal.code, refusal.message)


def _sync(group: ReplicationGroup, model: ReplicationGroupModel) -> None:
    """Copy the model's view onto moto's object, which is what moto serialises."""
    if model.tokens_known:
        group.auth_token_enabled = bool(model.tokens)
    group.status = model.status
    group.engine_version = model.engine_version
    group.cache_parameter_group_name = model.parameter_group
    pending = model.pending
    values: dict[str, str] = {}
    if pending is not None and pending.touches_auth:
        rotating = (pending.strategy or DEFAULT_STRATEGY) == "ROTATE"
        values["AuthTokenStatus"] = "ROTATING" if rotating else "SETTING"
    # moto's ReplicationGroup has no such attribute; its serialiser reads it when present.
    setattr(group, "pending_modified_values", values)  # noqa: B010


_PATCHED = ("create_replication_group", "describe_replication_groups", "modify_replication_group")
_MOTO: dict[str, Callable[[ElastiCacheResponse], ActionResult]] = {
    name: getattr(ElastiCacheResponse, name) for name in _PATCHED
}
"""moto's own methods, taken at import (before any installation): patches delegate to these,
never to another installation's patch, so nested installations do not run twice."""


class ResponsePatches:
    """Replacements for ElastiCacheResponse methods; ``durations`` comes from the install."""

    def __init__(self, durations: _DurationsFactory) -> None:
        self.durations = durations
        self.previous = {name: getattr(ElastiCacheResponse, name) for name in _PATCHED}

    def install(self) -> None:
        patches = self

        def create_replication_group(response: ElastiCacheResponse) -> ActionResult:
            return patches.create(response)

        def describe_replication_groups(response: ElastiCacheResponse) -> ActionResult:
            return patches.describe(response)

        def modify_replication_group(response: ElastiCacheResponse) -> ActionResult:
            return patches.modify(response)

        for method in (
            create_replication_group,
            describe_replication_groups,
            modify_replication_group,
        ):
            setattr(ElastiCacheResponse, method.__name__, method)

    def uninstall(self) -> None:
        for name, previous in self.previous.items():
            setattr(ElastiCacheResponse, name, previous)
        # Changes still applying complete, as they would have: moto alone has no way out of
        # ``modifying``, and a group must not stay stuck in it.
        for group, model in list(_MODELS.items()):
            if model.status == MODIFYING:
                model.describes_left = 0
                model.describe()
                _sync(group, model)

    def create(self, response: ElastiCacheResponse) -> ActionResult:
        token = response._get_param("AuthToken")
        transit = bool(response._get_bool_param("TransitEncryptionEnabled"))
        if token is not None:
            if not transit:
                raise _error(
                    AwsError(
                        "InvalidParameterCombination",
                        "AuthToken can only be used with TransitEncryptionEnabled",
                    )
                )
            problem = auth_token_problem(token)
            if problem:
                raise _error(AwsError("InvalidParameterValue", problem))
        result: ActionResult = _MOTO["create_replication_group"](response)
        group_id = response._get_param("ReplicationGroupId")
        (group,) = response.elasticache_backend.describe_replication_groups(group_id)
        model = model_of(group, self.durations)
        model.tokens, model.tokens_known = ([token] if token else []), True
        return result

    def describe(self, response: ElastiCacheResponse) -> ActionResult:
        group_id = response._get_param("ReplicationGroupId")
        for group in response.elasticache_backend.describe_replication_groups(group_id):
            model = model_of(group, self.durations)
            model.describe()
            _sync(group, model)
        result: ActionResult = _MOTO["describe_replication_groups"](response)
        return result

    def modify(self, response: ElastiCacheResponse) -> ActionResult:
        group_id = response._get_param("ReplicationGroupId")
        (group,) = response.elasticache_backend.describe_replication_groups(group_id)
        model = model_of(group, self.durations)
        change = Modification(
            auth_token=response._get_param("AuthToken"),
            strategy=response._get_param("AuthTokenUpdateStrategy"),
            engine_version=response._get_param("EngineVersion"),
            parameter_group=response._get_param("CacheParameterGroupName"),
            user_group_ids_to_add=tuple(response._get_param("UserGroupIdsToAdd") or ()),
        )
        try:
            model.modify(
                change, apply_immediately=bool(response._get_bool_param("ApplyImmediately"))
            )
        except AwsError as refusal:
            raise _error(refusal) from None
        if change.touches_auth:
            group.auth_token_last_modified_date = utcnow()
        _sync(group, model)
        result: ActionResult = _MOTO["modify_replication_group"](response)
        return result
