"""ElastiCache: replication groups through ``modifying``, RBAC users and user groups, and who
a group lets in (AUTH token, or its user group's ``default`` user).

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
* Role-Based Access Control (RBAC), User Guide
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html
  - RBAC needs encryption in transit; a user group must contain a user named ``default``
    (``DefaultUserRequired``); a client's ``AUTH <password>`` without a user name
    authenticates as the user named ``default``;
  - a user has one or two passwords, each 16-128 printable characters, none of ``, " / @``.
* CreateUser / ModifyUser / DescribeUsers / CreateUserGroup / ModifyUserGroup /
  DeleteUserGroup, API reference (and botocore's ``elasticache/2015-02-02/service-2.json``)
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyUser.html
  - ``User.Status``: "active", "modifying" or "deleting"; ``UserGroup.Status``: "creating",
    "active", "modifying", "deleting" (the AWS CLI's create-user-group example answers
    ``creating``);
  - ``InvalidUserState`` "The user is not in active state", ``InvalidUserGroupState``
    "The user group is not in an active state" (both HTTP 400); ``UserNotFound``,
    ``UserGroupNotFound``, ``DuplicateUserName``, ``DefaultUserRequired``;
  - ``Passwords``: "You are allowed up to two" (a list of at least one);
  - IAM authentication: the user name must equal the user id (Authenticating with IAM,
    User Guide: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth-iam.html).

What the model decides where AWS does not say (each the stricter reading, so code that
passes here does not rely on leniency):

* A change applies when its resource leaves ``modifying``: until then a group accepts the
  tokens, and a user the passwords, it accepted before (AWS does not say when during
  ``modifying`` a new token or password starts to work).
* ``SET`` needs a token the group already accepts (our reading of "allowed only after
  ROTATE"); ``ROTATE`` refuses a third token (the group holds at most two).
* ``ApplyImmediately=False`` waits for a maintenance window the model never reaches.
* The User Guide restricts AUTH token symbols further (only ``! & # $ ^ < > -``); the model
  follows the API reference and additionally refuses a space. The platform's generator uses
  the stricter set anyway. User passwords refuse a space too.
* A user group starts ``creating`` and a ModifyUserGroup passes through ``modifying``, each
  for the configured describes (DescribeUserGroups); a replication group may only be created
  with (or moved to) an ``active`` group, at most one (AWS: "one user group per replication
  group"), and not together with an AUTH token. ModifyUser and ModifyUserGroup are refused
  unless ``active``.
* ``DefaultUserRequired`` is enforced for ``valkey`` groups as for ``redis`` ones (AWS relaxed
  it for Valkey 8; our groups always have one). A group may not hold two users with the same
  user name (``DuplicateUserName``): AWS's own ``default`` user and ours cannot share one.
* A user group used by a replication group is not deleted (``InvalidUserGroupState``), nor
  a user who is a group's ``default`` user (``DefaultUserAssociatedToUserGroup``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.elasticache.exceptions import ElastiCacheException
from moto.elasticache.models import (
    ElastiCacheBackend,
    ReplicationGroup,
    User,
    elasticache_backends,
)
from moto.elasticache.responses import ElastiCacheResponse

from blueprint.local.models.base import AwsError, Durations

AVAILABLE = "available"
MODIFYING = "modifying"
ACTIVE = "active"
CREATING = "creating"
DELETING = "deleting"
AUTH_TOKEN_MIN_LENGTH = 16
AUTH_TOKEN_MAX_LENGTH = 128
AUTH_TOKEN_FORBIDDEN = frozenset(' "/@%')
"""API reference: not ``/ " @ %``; a space is not a "printable character" of the User Guide."""
MAX_AUTH_TOKENS = 2
STRATEGIES = ("ROTATE", "SET", "DELETE")
DEFAULT_STRATEGY = "ROTATE"
PASSWORD_MIN_LENGTH = 16
PASSWORD_MAX_LENGTH = 128
PASSWORD_FORBIDDEN = frozenset(' ,"/@')
"""RBAC User Guide: not ``, " / @``; a space is not a printable character there either."""
MAX_PASSWORDS = 2
DEFAULT_USER_NAME = "default"
MAX_USER_GROUPS_PER_REPLICATION_GROUP = 1
AUTHENTICATION_TYPES = ("password", "no-password-required", "iam")
"""``AuthenticationMode.Type`` (InputAuthenticationType); DescribeUsers reports
``no-password-required`` as ``no-password``."""


def auth_token_problem(token: str) -> str | None:
    """Why ElastiCache would refuse ``token`` as an AUTH token, or None."""
    return _secret_problem("AuthToken", token, AUTH_TOKEN_FORBIDDEN)


def password_problem(password: str) -> str | None:
    """Why ElastiCache would refuse ``password`` as a user's password, or None."""
    return _secret_problem("Passwords", password, PASSWORD_FORBIDDEN)


def _secret_problem(name: str, value: str, forbidden: frozenset[str]) -> str | None:
    if not AUTH_TOKEN_MIN_LENGTH <= len(value) <= AUTH_TOKEN_MAX_LENGTH:
        return (
            f"{name} must be {AUTH_TOKEN_MIN_LENGTH}-{AUTH_TOKEN_MAX_LENGTH} characters, "
            f"not {len(value)}"
        )
    # printable ASCII is "!" to "~"; whitespace and control characters fall outside it
    bad = sorted({c for c in value if not "!" <= c <= "~" or c in forbidden})
    if bad:
        return f"{name} contains characters ElastiCache refuses: {''.join(bad)!r}"
    return None


def _passwords_problem(passwords: tuple[str, ...]) -> str | None:
    if not 1 <= len(passwords) <= MAX_PASSWORDS:
        return f"a user has 1 to {MAX_PASSWORDS} passwords, not {len(passwords)}"
    return next(filter(None, map(password_problem, passwords)), None)


# --- users and user groups ---------------------------------------------------------------


class _Ticking(Protocol):
    status: str
    describes_left: int
    seen: list[str]

    def _complete(self) -> None: ...


def _tick(model: _Ticking, *, busy: tuple[str, ...]) -> str:
    """One describe call on the virtual clock: a change in progress (``busy``) stays so for
    ``describes_left`` more calls, then completes; every status reported is recorded."""
    if model.status in busy:
        if model.describes_left > 0:
            model.describes_left -= 1
        else:
            model._complete()
    model.seen.append(model.status)
    return model.status


@dataclass(frozen=True)
class UserChange:
    """The parts of one ModifyUser that pass the user through ``modifying``."""

    passwords: tuple[str, ...] | None = None
    access_string: str | None = None
    append_access_string: str | None = None
    authentication_type: str | None = None
    """``AuthenticationMode.Type`` (or ``no-password-required`` from NoPasswordRequired)."""

    @property
    def is_change(self) -> bool:
        return any(
            v is not None
            for v in (
                self.passwords,
                self.access_string,
                self.append_access_string,
                self.authentication_type,
            )
        )


@dataclass
class UserModel:
    """One RBAC user's state machine: ``active`` <-> ``modifying``; its passwords."""

    user_id: str
    user_name: str
    engine: str
    durations: Durations
    authentication: str = "password"
    """``password``, ``iam`` or ``no-password-required``."""
    passwords: list[str] = field(default_factory=list)
    """Passwords the user has now (AUTH with any of them succeeds)."""
    access_string: str = ""
    status: str = ACTIVE
    describes_left: int = 0
    pending: UserChange | None = None
    requested: list[UserChange] = field(default_factory=list)
    """Every change accepted by ModifyUser, in order."""
    applied: list[UserChange] = field(default_factory=list)
    """Every change that completed, in order."""
    seen: list[str] = field(default_factory=list)
    """The status each describe reported, in order."""

    def accepts(self, password: str) -> bool:
        """Whether ``AUTH`` as this user with ``password`` would succeed."""
        return self.authentication == "password" and password in self.passwords

    def modify(self, change: UserChange) -> None:
        """ModifyUser: refused unless ``active``; a change starts ``modifying``."""
        if self.status != ACTIVE:
            raise AwsError(
                "InvalidUserState",
                f"User {self.user_id} is not in active state (it is {self.status}).",
            )
        self._check(change)
        if not change.is_change:
            return
        self.requested.append(change)
        self.status = MODIFYING
        self.pending = change
        self.describes_left = self.durations.next()

    def describe(self) -> str:
        """One DescribeUsers call naming this user: the clock ticks, a change applies."""
        return _tick(self, busy=(MODIFYING,))

    def _check(self, change: UserChange) -> None:
        mode = change.authentication_type or self.authentication
        if mode not in AUTHENTICATION_TYPES:
            raise AwsError("InvalidParameterValue", f"AuthenticationMode Type {mode!r}")
        if change.passwords is not None:
            if mode != "password":
                raise AwsError(
                    "InvalidParameterCombination",
                    f"Passwords are not allowed with authentication type {mode}",
                )
            problem = _passwords_problem(change.passwords)
            if problem:
                raise AwsError("InvalidParameterValue", problem)
        elif change.authentication_type == "password" and self.authentication != "password":
            raise AwsError(
                "InvalidParameterCombination",
                "A user with Authentication Mode: password, must have at least one password",
            )
        if mode == "iam" and self.user_name != self.user_id:
            raise AwsError("InvalidParameterValue", "IAM authentication needs UserName == UserId")

    def _complete(self) -> None:
        change = self.pending
        self.status, self.pending = ACTIVE, None
        if change is None:
            return
        if change.authentication_type is not None:
            self.authentication = change.authentication_type
            if self.authentication != "password":
                self.passwords = []
        if change.passwords is not None:
            self.passwords = list(change.passwords)
        if change.access_string is not None:
            self.access_string = change.access_string
        if change.append_access_string is not None:
            self.access_string = f"{self.access_string} {change.append_access_string}".strip()
        self.applied.append(change)


@dataclass
class UserGroupModel:
    """One user group: ``creating`` -> ``active`` <-> ``modifying``."""

    group_id: str
    engine: str
    user_ids: list[str]
    durations: Durations
    status: str = CREATING
    describes_left: int = 0
    pending_add: tuple[str, ...] = ()
    pending_remove: tuple[str, ...] = ()
    replication_groups: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.describes_left = self.durations.next()

    def modify(self, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
        if self.status != ACTIVE:
            raise AwsError(
                "InvalidUserGroupState",
                f"User group {self.group_id} is not in active state (it is {self.status}).",
            )
        self.status = MODIFYING
        self.pending_add, self.pending_remove = add, remove
        self.describes_left = self.durations.next()

    def describe(self) -> str:
        """One DescribeUserGroups call naming this group: the clock ticks, a change applies."""
        return _tick(self, busy=(CREATING, MODIFYING))

    def _complete(self) -> None:
        kept = [u for u in self.user_ids if u not in self.pending_remove]
        self.user_ids = kept + [u for u in self.pending_add if u not in kept]
        self.pending_add = self.pending_remove = ()
        self.status = ACTIVE

    def shape(self, region: str, account_id: str) -> dict[str, Any]:
        """The UserGroup structure of the API."""
        pending: dict[str, Any] = {}
        if self.pending_add:
            pending["UserIdsToAdd"] = list(self.pending_add)
        if self.pending_remove:
            pending["UserIdsToRemove"] = list(self.pending_remove)
        return {
            "UserGroupId": self.group_id,
            "Status": self.status,
            "Engine": self.engine,
            "UserIds": list(self.user_ids),
            "MinimumEngineVersion": "6.0",
            **({"PendingChanges": pending} if pending else {}),
            "ReplicationGroups": list(self.replication_groups),
            "ServerlessCaches": [],
            "ARN": f"arn:aws:elasticache:{region}:{account_id}:usergroup:{self.group_id}",
        }


_USERS: weakref.WeakKeyDictionary[User, UserModel] = weakref.WeakKeyDictionary()
_DurationsFactory = Callable[[], Durations]


def user_model_of(user: User, durations: _DurationsFactory) -> UserModel:
    """The model of a moto user; one made before the models were installed (AWS's own
    ``default``) starts with the passwords moto kept."""
    if user not in _USERS:
        authentication = (
            "no-password-required"
            if user.no_password_required
            else str(user.authentication_type or "password")
        )
        _USERS[user] = UserModel(
            user_id=user.id,
            user_name=user.name,
            engine=user.engine,
            durations=durations(),
            authentication=authentication,
            passwords=list(user.passwords or []),
            access_string=user.access_string or "",
        )
    return _USERS[user]


class Directory:
    """One region's users and user groups (moto keeps the users, the model the groups)."""

    def __init__(self, backend: ElastiCacheBackend, durations: _DurationsFactory) -> None:
        self._backend = weakref.ref(backend)
        self.durations = durations
        self.groups: dict[str, UserGroupModel] = {}

    @property
    def backend(self) -> ElastiCacheBackend:
        backend = self._backend()
        if backend is None:  # moto was reset; nothing of this region is left
            raise AwsError("UserNotFound", "the region's users are gone (moto was reset)")
        return backend

    def user(self, user_id: str) -> UserModel:
        user = self.backend.users.get(user_id)
        if user is None:
            raise AwsError("UserNotFound", f"User {user_id} not found.")
        return user_model_of(user, self.durations)

    def group(self, group_id: str) -> UserGroupModel:
        if group_id not in self.groups:
            raise AwsError("UserGroupNotFound", f"User group {group_id} not found.")
        return self.groups[group_id]

    def check_members(self, user_ids: Iterable[str]) -> None:
        """What a user group's membership must satisfy (unknown ids, names, ``default``)."""
        users = [self.user(user_id) for user_id in user_ids]
        names = [u.user_name for u in users]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise AwsError(
                "DuplicateUserName", f"A user group cannot hold two users named {duplicates[0]}"
            )
        if DEFAULT_USER_NAME not in names:
            raise AwsError("DefaultUserRequired", "You must add default user to a user group.")

    def check_assignable(self, group_ids: Iterable[str]) -> None:
        """What a replication group's user groups must satisfy."""
        ids = list(group_ids)
        if len(ids) > MAX_USER_GROUPS_PER_REPLICATION_GROUP:
            raise AwsError(
                "InvalidParameterValue",
                f"a replication group has at most {MAX_USER_GROUPS_PER_REPLICATION_GROUP} "
                f"user group, not {len(ids)}",
            )
        for group_id in ids:
            group = self.group(group_id)
            if group.status != ACTIVE:
                raise AwsError(
                    "InvalidUserGroupState",
                    f"User group {group_id} is not in active state (it is {group.status}).",
                )

    def default_user(self, group_ids: Iterable[str]) -> UserModel | None:
        """The user named ``default`` of the first of ``group_ids`` that has one."""
        for group_id in group_ids:
            group = self.groups.get(group_id)
            for user_id in group.user_ids if group else ():
                if user_id in self.backend.users:
                    user = self.user(user_id)
                    if user.user_name == DEFAULT_USER_NAME:
                        return user
        return None

    def groups_of(self, user_id: str) -> list[str]:
        return [g.group_id for g in self.groups.values() if user_id in g.user_ids]


_DIRECTORIES: weakref.WeakKeyDictionary[ElastiCacheBackend, Directory] = weakref.WeakKeyDictionary()


def directory_of(backend: ElastiCacheBackend, durations: _DurationsFactory) -> Directory:
    if backend not in _DIRECTORIES:
        _DIRECTORIES[backend] = Directory(backend, durations)
    return _DIRECTORIES[backend]


# --- replication groups ------------------------------------------------------------------


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
        return (
            self.touches_auth
            or bool(self.engine_version or self.parameter_group)
            or bool(self.user_group_ids_to_add)
        )


@dataclass
class ReplicationGroupModel:
    """One replication group's state machine: ``available`` <-> ``modifying``."""

    group_id: str
    transit_encryption: bool
    durations: Durations
    tokens: list[str] = field(default_factory=list)
    """AUTH tokens the group accepts now, oldest first (none once it uses RBAC)."""
    tokens_known: bool = True
    """False for a group created before the models were installed (moto keeps no token)."""
    user_group_ids: list[str] = field(default_factory=list)
    """RBAC: the user group whose ``default`` user a password-only ``AUTH`` logs in as."""
    directory: Directory | None = None
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

    def accepts(self, password: str) -> bool:
        """Whether a client sending ``AUTH <password>`` (no user name) would be let in: with
        RBAC, as the user group's ``default`` user; else with the AUTH token."""
        if self.user_group_ids:
            default = self.directory.default_user(self.user_group_ids) if self.directory else None
            return default is not None and default.accepts(password)
        return password in self.tokens

    def default_user(self) -> UserModel | None:
        """RBAC: the user a password-only ``AUTH`` logs in as (None with an AUTH token)."""
        if not self.user_group_ids or self.directory is None:
            return None
        return self.directory.default_user(self.user_group_ids)

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
        return _tick(self, busy=(MODIFYING,))

    def _check(self, change: Modification) -> None:
        if change.user_group_ids_to_add:
            if self.directory is None:
                raise AwsError("UserGroupNotFound", "no user groups in this region")
            self.directory.check_assignable([*self.user_group_ids, *change.user_group_ids_to_add])
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
        if self.user_group_ids or change.user_group_ids_to_add:
            raise AwsError(
                "InvalidParameterCombination",
                "AuthToken cannot be used on a group that authenticates with a user group",
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
        if change.user_group_ids_to_add:
            self._join(change.user_group_ids_to_add)
        self.engine_version = change.engine_version or self.engine_version
        self.parameter_group = change.parameter_group or self.parameter_group
        self.applied.append(change)

    def _join(self, group_ids: Iterable[str]) -> None:
        for group_id in group_ids:
            if group_id not in self.user_group_ids:
                self.user_group_ids.append(group_id)
            if self.directory is not None and group_id in self.directory.groups:
                self.directory.groups[group_id].replication_groups.append(self.group_id)


# --- moto adapter ------------------------------------------------------------------------

_MODELS: weakref.WeakKeyDictionary[ReplicationGroup, ReplicationGroupModel] = (
    weakref.WeakKeyDictionary()
)


def _backend_of(group: ReplicationGroup) -> ElastiCacheBackend:
    # moto's group keeps its region and account only in its ARN
    _, _, _, region, account_id = str(group.arn).split(":")[:5]
    backend: ElastiCacheBackend = elasticache_backends[account_id][region]
    return backend


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
            directory=directory_of(_backend_of(group), durations),
        )
    return _MODELS[group]


def find(
    group_id: str, *, region: str, account_id: str, durations: _DurationsFactory
) -> ReplicationGroupModel:
    backend: ElastiCacheBackend = elasticache_backends[account_id][region]
    (group,) = backend.describe_replication_groups(group_id)
    return model_of(group, durations)


def find_user(
    user_id: str, *, region: str, account_id: str, durations: _DurationsFactory
) -> UserModel:
    backend: ElastiCacheBackend = elasticache_backends[account_id][region]
    try:
        return directory_of(backend, durations).user(user_id)
    except AwsError as missing:
        raise KeyError(user_id) from missing


def find_user_group(
    group_id: str, *, region: str, account_id: str, durations: _DurationsFactory
) -> UserGroupModel:
    backend: ElastiCacheBackend = elasticache_backends[account_id][region]
    try:
        return directory_of(backend, durations).group(group_id)
    except AwsError as missing:
        raise KeyError(group_id) from missing


def _error(refusal: AwsError) -> ElastiCacheException:
    return ElastiCacheException(refusal.code, refusal.message)


def _sync(group: ReplicationGroup, model: ReplicationGroupModel) -> None:
    """Copy the model's view onto moto's object, which is what moto serialises."""
    if model.tokens_known:
        group.auth_token_enabled = bool(model.tokens)
    group.status = model.status
    group.engine_version = model.engine_version
    group.cache_parameter_group_name = model.parameter_group
    group.user_group_ids = list(model.user_group_ids)
    pending = model.pending
    values: dict[str, Any] = {}
    if pending is not None and pending.touches_auth:
        rotating = (pending.strategy or DEFAULT_STRATEGY) == "ROTATE"
        values["AuthTokenStatus"] = "ROTATING" if rotating else "SETTING"
    if pending is not None and pending.user_group_ids_to_add:
        values["UserGroups"] = {"UserGroupIdsToAdd": list(pending.user_group_ids_to_add)}
    # moto's ReplicationGroup has no such attribute; its serialiser reads it when present.
    setattr(group, "pending_modified_values", values)  # noqa: B010


def _sync_user(user: User, model: UserModel, directory: Directory) -> None:
    user.status = model.status
    user.passwords = list(model.passwords)
    user.access_string = model.access_string
    user.no_password_required = model.authentication == "no-password-required"
    user.authentication_type = model.authentication
    user.user_group_ids = directory.groups_of(model.user_id)


_PATCHED = (
    "create_replication_group",
    "describe_replication_groups",
    "modify_replication_group",
    "create_user",
    "describe_users",
    "delete_user",
)
_ADDED = (
    "modify_user",
    "create_user_group",
    "describe_user_groups",
    "modify_user_group",
    "delete_user_group",
)
"""Calls moto 5.2.5 does not have at all: added while installed, removed afterwards."""
_MOTO: dict[str, Callable[[ElastiCacheResponse], ActionResult]] = {
    name: getattr(ElastiCacheResponse, name) for name in _PATCHED
}
"""moto's own methods, taken at import (before any installation): patches delegate to these,
never to another installation's patch, so nested installations do not run twice."""


def _user_id(response: ElastiCacheResponse) -> str:
    return str(response._get_param("UserId") or "")


class ResponsePatches:
    """Replacements for ElastiCacheResponse methods; ``durations`` comes from the install."""

    def __init__(
        self, durations: _DurationsFactory, user_group_durations: _DurationsFactory | None = None
    ) -> None:
        self.durations = durations
        self.user_group_durations = user_group_durations or durations
        self.previous: dict[str, Any] = {
            name: getattr(ElastiCacheResponse, name, None) for name in (*_PATCHED, *_ADDED)
        }

    def install(self) -> None:
        for name in (*_PATCHED, *_ADDED):
            setattr(ElastiCacheResponse, name, self._method(name))

    def _method(self, name: str) -> Callable[[ElastiCacheResponse], ActionResult]:
        handler: Callable[[ElastiCacheResponse], ActionResult] = getattr(self, f"_{name}")

        def method(response: ElastiCacheResponse) -> ActionResult:
            try:
                return handler(response)
            except AwsError as refusal:
                raise _error(refusal) from None

        method.__name__ = name
        return method

    def uninstall(self) -> None:
        for name, previous in self.previous.items():
            if previous is None:
                delattr(ElastiCacheResponse, name)
            else:
                setattr(ElastiCacheResponse, name, previous)
        # Changes still applying complete, as they would have: moto alone has no way out of
        # ``modifying``, and a group must not stay stuck in it.
        for group, model in list(_MODELS.items()):
            if model.status == MODIFYING:
                model.describes_left = 0
                model.describe()
                _sync(group, model)
        for user, user_model in list(_USERS.items()):
            if user_model.status == MODIFYING:
                user_model.describes_left = 0
                user_model.describe()
                user.status, user.passwords = user_model.status, list(user_model.passwords)

    def _directory(self, response: ElastiCacheResponse) -> Directory:
        return directory_of(response.elasticache_backend, self.durations)

    # --- replication groups ---

    def _create_replication_group(self, response: ElastiCacheResponse) -> ActionResult:
        token = response._get_param("AuthToken")
        transit = bool(response._get_bool_param("TransitEncryptionEnabled"))
        user_groups = list(response._get_param("UserGroupIds") or [])
        if (token is not None or user_groups) and not transit:
            what = "AuthToken" if token is not None else "UserGroupIds (RBAC)"
            raise AwsError(
                "InvalidParameterCombination",
                f"{what} can only be used with TransitEncryptionEnabled",
            )
        if token is not None:
            problem = auth_token_problem(token)
            if problem:
                raise AwsError("InvalidParameterValue", problem)
            if user_groups:
                raise AwsError(
                    "InvalidParameterCombination", "AuthToken and UserGroupIds exclude each other"
                )
        directory = self._directory(response)
        if user_groups:
            directory.check_assignable(user_groups)
        result: ActionResult = _MOTO["create_replication_group"](response)
        group_id = response._get_param("ReplicationGroupId")
        (group,) = response.elasticache_backend.describe_replication_groups(group_id)
        model = model_of(group, self.durations)
        model.tokens, model.tokens_known = ([token] if token else []), True
        model._join(user_groups)
        return result

    def _describe_replication_groups(self, response: ElastiCacheResponse) -> ActionResult:
        group_id = response._get_param("ReplicationGroupId")
        for group in response.elasticache_backend.describe_replication_groups(group_id):
            model = model_of(group, self.durations)
            model.describe()
            _sync(group, model)
        result: ActionResult = _MOTO["describe_replication_groups"](response)
        return result

    def _modify_replication_group(self, response: ElastiCacheResponse) -> ActionResult:
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
        model.modify(change, apply_immediately=bool(response._get_bool_param("ApplyImmediately")))
        if change.touches_auth:
            group.auth_token_last_modified_date = utcnow()
        _sync(group, model)
        result: ActionResult = _MOTO["modify_replication_group"](response)
        return result

    # --- users ---

    def _create_user(self, response: ElastiCacheResponse) -> ActionResult:
        mode = response._get_param("AuthenticationMode") or {}
        passwords = tuple(response._get_param("Passwords") or mode.get("Passwords") or ())
        if passwords:
            problem = _passwords_problem(passwords)
            if problem:
                raise AwsError("InvalidParameterValue", problem)
        user_id = _user_id(response)
        if mode.get("Type") == "iam" and response._get_param("UserName") != user_id:
            raise AwsError("InvalidParameterValue", "IAM authentication needs UserName == UserId")
        result: ActionResult = _MOTO["create_user"](response)
        directory = self._directory(response)
        model = directory.user(user_id)
        _sync_user(response.elasticache_backend.users[user_id], model, directory)
        return result

    def _describe_users(self, response: ElastiCacheResponse) -> ActionResult:
        directory = self._directory(response)
        user_id = _user_id(response)
        users = response.elasticache_backend.users
        for user in [users[user_id]] if user_id in users else list(users.values()):
            model = user_model_of(user, directory.durations)
            model.describe()
            _sync_user(user, model, directory)
        result: ActionResult = _MOTO["describe_users"](response)
        return result

    def _delete_user(self, response: ElastiCacheResponse) -> ActionResult:
        directory = self._directory(response)
        user_id = _user_id(response)
        model = directory.user(user_id)
        if model.status != ACTIVE:
            raise AwsError("InvalidUserState", f"User {user_id} is not in active state.")
        groups = directory.groups_of(user_id)
        if groups and model.user_name == DEFAULT_USER_NAME:
            raise AwsError(
                "DefaultUserAssociatedToUserGroup",
                f"User {user_id} is the default user of user group {groups[0]}.",
            )
        for group_id in groups:
            directory.groups[group_id].user_ids.remove(user_id)
        result: ActionResult = _MOTO["delete_user"](response)
        return result

    def _modify_user(self, response: ElastiCacheResponse) -> ActionResult:
        directory = self._directory(response)
        user_id = _user_id(response)
        model = directory.user(user_id)
        mode = response._get_param("AuthenticationMode") or {}
        passwords = response._get_param("Passwords") or mode.get("Passwords")
        no_password = response._get_bool_param("NoPasswordRequired")
        change = UserChange(
            passwords=tuple(passwords) if passwords else None,
            access_string=response._get_param("AccessString"),
            append_access_string=response._get_param("AppendAccessString"),
            authentication_type=mode.get("Type")
            or ("no-password-required" if no_password else None),
        )
        model.modify(change)
        user = response.elasticache_backend.users[user_id]
        _sync_user(user, model, directory)
        return ActionResult(user)

    # --- user groups ---

    def _create_user_group(self, response: ElastiCacheResponse) -> ActionResult:
        directory = self._directory(response)
        group_id = str(response._get_param("UserGroupId")).lower()
        if group_id in directory.groups:
            raise AwsError("UserGroupAlreadyExists", f"User group {group_id} already exists.")
        user_ids = list(response._get_param("UserIds") or [])
        directory.check_members(user_ids)
        group = UserGroupModel(
            group_id=group_id,
            engine=str(response._get_param("Engine")).lower(),
            user_ids=user_ids,
            durations=self.user_group_durations(),
        )
        directory.groups[group_id] = group
        return ActionResult(group.shape(response.region, response.current_account))

    def _describe_user_groups(self, response: ElastiCacheResponse) -> ActionResult:
        directory = self._directory(response)
        group_id = response._get_param("UserGroupId")
        groups = [directory.group(group_id)] if group_id else list(directory.groups.values())
        for group in groups:
            group.describe()
        shapes = [g.shape(response.region, response.current_account) for g in groups]
        return ActionResult({"UserGroups": shapes})

    def _modify_user_group(self, response: ElastiCacheResponse) -> ActionResult:
        directory = self._directory(response)
        group = directory.group(str(response._get_param("UserGroupId")))
        add = tuple(response._get_param("UserIdsToAdd") or ())
        remove = tuple(response._get_param("UserIdsToRemove") or ())
        for user_id in (*add, *remove):
            directory.user(user_id)
        kept = [u for u in group.user_ids if u not in remove]
        if group.status == ACTIVE:
            directory.check_members(kept + [u for u in add if u not in kept])
        group.modify(add, remove)
        return ActionResult(group.shape(response.region, response.current_account))

    def _delete_user_group(self, response: ElastiCacheResponse) -> ActionResult:
        directory = self._directory(response)
        group = directory.group(str(response._get_param("UserGroupId")))
        if group.status != ACTIVE or group.replication_groups:
            used = ", ".join(group.replication_groups)
            raise AwsError(
                "InvalidUserGroupState",
                f"User group {group.group_id} is {group.status}"
                + (f" and used by {used}" if used else ""),
            )
        group.status = DELETING
        del directory.groups[group.group_id]
        return ActionResult(group.shape(response.region, response.current_account))
