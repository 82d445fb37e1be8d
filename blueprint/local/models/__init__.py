"""Models of AWS state machines that moto does not follow, installed into moto.

moto answers at once and forgets what AWS does in between. These models put it back, each
citing the AWS documentation it follows (see the modules):

* :mod:`.elasticache`: ModifyReplicationGroup (AUTH ``ROTATE``/``SET``/``DELETE``, engine
  version, parameter group, user groups) through ``modifying``, refused while ``modifying``;
  AUTH token rules; RBAC users (ModifyUser through ``modifying``, at most two passwords) and
  user groups (``creating``, a ``default`` user required); which passwords a group accepts
  (its AUTH tokens, or its user group's ``default`` user's passwords);
* :mod:`.msk`: ``CREATING`` -> ``ACTIVE``, update calls through ``UPDATING``, refused unless
  ``ACTIVE`` or with a stale ``CurrentVersion``;
* :mod:`.rotation`: RotateSecret invoking an in-process rotation function step by step,
  retrying the whole rotation from createSecret, refusing while a rotation is incomplete;
* :mod:`.cloudwatch`: PutCompositeAlarm (refusing a rule that names a missing alarm),
  DescribeAlarms' ``AlarmTypes``, and what PutMetricAlarm refuses (evaluation range, "M out
  of N", metric-math limits, five actions per list);
* :mod:`.amp`: alert manager definitions, the workspace's KMS key, the logging configuration's
  log group ARN (``:*``, existing).

Virtual time: a transitional state lasts a configured number of *describe calls*
(DescribeReplicationGroups, DescribeUsers, DescribeUserGroups, DescribeCluster/V2) — the
first N describes after a change see ``modifying``/``UPDATING``, the next sees the change
applied — and rotation functions sleep on a virtual clock. Tests are then exact and fast.

Use::

    with mock_aws(), installed(AwsModels(describes_while_modifying=3)) as models:
        models.register_rotation_function(arn, handler.lambda_handler, timeout_seconds=900)
        ...
        assert models.replication_group("online-store", region="eu-central-1").accepts(t)
        assert models.user("fp-dev-default", region="eu-central-1").passwords == [t]

The patches are process-wide (moto's classes), so they also serve a ``ThreadedMotoServer``
running in the same process; :func:`install` / :func:`uninstall` for code that cannot use a
``with`` block (a server started for the life of the process).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.kafka.models import kafka_backends

from blueprint.local.models import amp, cloudwatch, elasticache, msk, rotation
from blueprint.local.models.amp import AmpState
from blueprint.local.models.base import AwsError, Durations, VirtualClock
from blueprint.local.models.elasticache import ReplicationGroupModel, UserGroupModel, UserModel
from blueprint.local.models.msk import ClusterModel
from blueprint.local.models.rotation import ROTATION_ATTEMPTS, Handler, RotationFunction

__all__ = [
    "ROTATION_ATTEMPTS",
    "AwsError",
    "AwsModels",
    "ClusterModel",
    "Durations",
    "ReplicationGroupModel",
    "RotationFunction",
    "UserGroupModel",
    "UserModel",
    "VirtualClock",
    "active",
    "install",
    "installed",
    "uninstall",
]

DEFAULT_DESCRIBES = 2
"""Describes that see a transitional state by default: enough that code which never waits
(or waits once) is caught, few enough that a correct waiter finishes at once."""


@dataclass
class AwsModels:
    """The settings of one installation, and the door to its state for tests."""

    describes_while_modifying: int | Sequence[int] = DEFAULT_DESCRIBES
    """ElastiCache: describes that still see ``modifying`` after each change of a replication
    group or a user (see Durations)."""
    describes_while_user_group_changes: int | Sequence[int] = DEFAULT_DESCRIBES
    """ElastiCache user groups: describes that see ``creating`` (then ``modifying``) after
    CreateUserGroup (then each ModifyUserGroup)."""
    describes_while_creating_msk: int | Sequence[int] = DEFAULT_DESCRIBES
    describes_while_updating_msk: int | Sequence[int] = DEFAULT_DESCRIBES
    rotation_attempts: int = ROTATION_ATTEMPTS
    clock: VirtualClock = field(default_factory=VirtualClock)
    functions: dict[str, RotationFunction] = field(default_factory=dict)
    amp: AmpState = field(default_factory=AmpState)
    """Alert manager definitions and workspace keys the AMP model keeps."""

    def register_rotation_function(
        self,
        arn: str,
        handler: Handler,
        *,
        timeout_seconds: int = rotation.LAMBDA_DEFAULT_TIMEOUT_SECONDS,
        environment: dict[str, str] | None = None,
    ) -> RotationFunction:
        """Run ``handler`` in-process whenever Secrets Manager would invoke ``arn``."""
        function = RotationFunction(arn, handler, timeout_seconds, dict(environment or {}))
        self.functions[arn] = function
        return function

    def replication_group(
        self, group_id: str, *, region: str, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> ReplicationGroupModel:
        """The model of a group in moto: ask it ``accepts(token)``, ``status``, ``applied``."""
        return elasticache.find(
            group_id, region=region, account_id=account_id, durations=self._modifying
        )

    def user(self, user_id: str, *, region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> UserModel:
        """The model of an ElastiCache user: ``passwords``, ``status``, ``requested``."""
        return elasticache.find_user(
            user_id, region=region, account_id=account_id, durations=self._modifying
        )

    def user_group(
        self, group_id: str, *, region: str, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> UserGroupModel:
        """The model of an ElastiCache user group: ``user_ids``, ``status``."""
        return elasticache.find_user_group(
            group_id, region=region, account_id=account_id, durations=self._modifying
        )

    def _user_group_changes(self) -> Durations:
        return Durations(self.describes_while_user_group_changes)

    def msk_cluster(
        self, arn: str, *, region: str, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> ClusterModel:
        cluster = kafka_backends[account_id][region].clusters[arn]
        return msk.model_of(cluster, self._updating)

    def _modifying(self) -> Durations:
        return Durations(self.describes_while_modifying)

    def _updating(self) -> Durations:
        # A cluster's first transition is its creation, then its updates.
        first = _as_list(self.describes_while_creating_msk)[:1]
        return Durations(first + _as_list(self.describes_while_updating_msk))


def _as_list(values: int | Sequence[int]) -> list[int]:
    return [values] if isinstance(values, int) else list(values)


class _Installation:
    def __init__(self, models: AwsModels) -> None:
        self.models = models
        driver = rotation.RotationDriver(models.functions, models.clock, models.rotation_attempts)
        self.patches = (
            elasticache.ResponsePatches(models._modifying, models._user_group_changes),
            msk.Patches(models._updating),
            rotation.Patches(driver),
            cloudwatch.Patches(),
            amp.Patches(models.amp),
        )

    def install(self) -> None:
        for patch in self.patches:
            patch.install()

    def uninstall(self) -> None:
        for patch in reversed(self.patches):
            patch.uninstall()


_LOCK = threading.Lock()
_ACTIVE: list[_Installation] = []


def install(models: AwsModels | None = None) -> AwsModels:
    """Patch moto with the models until :func:`uninstall`. Installs nest: the innermost wins."""
    with _LOCK:
        # Built under the lock: each installation keeps the methods it replaces.
        installation = _Installation(models or AwsModels())
        installation.install()
        _ACTIVE.append(installation)
    return installation.models


def uninstall(models: AwsModels) -> None:
    """Undo the :func:`install` that returned ``models`` (and any installed after it)."""
    with _LOCK:
        while _ACTIVE:
            installation = _ACTIVE.pop()
            installation.uninstall()
            if installation.models is models:
                return
        raise ValueError("these models are not installed")


def active() -> AwsModels | None:
    """The innermost installed models (None when none are installed)."""
    with _LOCK:
        return _ACTIVE[-1].models if _ACTIVE else None


@contextmanager
def installed(models: AwsModels | None = None) -> Iterator[AwsModels]:
    """The models in moto for the duration of the block."""
    active = install(models)
    try:
        yield active
    finally:
        uninstall(active)
