"""MSK provisioned clusters: ``CREATING`` -> ``ACTIVE``, and updates through ``UPDATING``.

Source (AWS documentation): Understand MSK Provisioned cluster states
https://docs.aws.amazon.com/msk/latest/developerguide/msk-cluster-states.html

* ``CREATING``: "You must wait for the cluster to reach the ACTIVE state before you can ...
  perform Amazon MSK API or AWS CLI operations on it";
* ``UPDATING``: "a user-initiated Amazon MSK API or AWS CLI operation is updating the
  cluster ... you can't perform any other Amazon MSK API or AWS CLI update operations on it
  until it returns to the ACTIVE state" (the same holds for HEALING, MAINTENANCE and
  REBOOTING_BROKER, which nobody here starts).

Every update call also names the cluster's ``CurrentVersion`` (MSK API reference, e.g.
https://docs.aws.amazon.com/msk/1.0/apireference/clusters-clusterarn-nodes-storage.html);
a stale version is refused, and each accepted update gives the cluster a new version.

moto 5 never leaves ``CREATING`` and has no update calls at all; the adapter adds the
update operations below to moto's Kafka responder and lets describes drive the states.
"""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from moto.kafka.exceptions import BadRequestException, NotFoundException
from moto.kafka.models import FakeKafkaCluster, KafkaBackend
from moto.kafka.responses import KafkaResponse

from blueprint.local.models.base import AwsError, Durations

ACTIVE = "ACTIVE"
CREATING = "CREATING"
UPDATING = "UPDATING"

Apply = Callable[[FakeKafkaCluster], None]
"""What an update does to moto's cluster once it completes."""


@dataclass
class Update:
    operation: str
    apply: Apply


@dataclass
class ClusterModel:
    """One cluster's state machine."""

    arn: str
    durations: Durations
    current_version: str
    state: str = CREATING
    describes_left: int = 0
    pending: Update | None = None
    applied: list[str] = field(default_factory=list)
    """Operations that completed, in order."""

    def __post_init__(self) -> None:
        if self.state == CREATING:
            self.describes_left = self.durations.next()

    def update(self, operation: str, current_version: str | None, apply: Apply) -> str:
        """Start an update; the cluster's new version. Refused unless ``ACTIVE``."""
        if self.state != ACTIVE:
            raise AwsError(
                "BadRequestException",
                f"{operation}: the cluster is {self.state}; updates are possible only "
                "when it is ACTIVE",
            )
        if current_version != self.current_version:
            raise AwsError(
                "BadRequestException",
                f"{operation}: CurrentVersion {current_version!r} is not the cluster's "
                f"current version {self.current_version!r}",
            )
        self.state, self.pending = UPDATING, Update(operation, apply)
        self.describes_left = self.durations.next()
        # Opaque like AWS's ("K3AEGXETSR30VB"): callers must read it, not compute it.
        self.current_version = uuid.uuid4().hex[:14].upper()
        return self.current_version

    def describe(self, cluster: FakeKafkaCluster) -> str:
        """One DescribeCluster(V2): the clock ticks; a finished step applies to ``cluster``."""
        if self.state in (CREATING, UPDATING):
            if self.describes_left > 0:
                self.describes_left -= 1
            else:
                self._complete(cluster)
        return self.state

    def _complete(self, cluster: FakeKafkaCluster) -> None:
        if self.pending is not None:
            self.pending.apply(cluster)
            self.applied.append(self.pending.operation)
        self.state, self.pending = ACTIVE, None


# --- moto adapter ------------------------------------------------------------------------

_MODELS: weakref.WeakKeyDictionary[FakeKafkaCluster, ClusterModel] = weakref.WeakKeyDictionary()
_DurationsFactory = Callable[[], Durations]


def model_of(cluster: FakeKafkaCluster, durations: _DurationsFactory) -> ClusterModel:
    """The model of a moto cluster (one created before installation is taken as ACTIVE)."""
    if cluster not in _MODELS:
        _MODELS[cluster] = ClusterModel(
            arn=cluster.arn,
            durations=durations(),
            current_version=cluster.current_version,
            state=ACTIVE,
        )
    return _MODELS[cluster]


def _set_storage(params: dict[str, Any]) -> Apply:
    def apply(cluster: FakeKafkaCluster) -> None:
        volumes = params.get("targetBrokerEBSVolumeInfo") or [{}]
        size = volumes[0].get("volumeSizeGB")
        info = cluster.broker_node_group_info or {}
        info.setdefault("storageInfo", {}).setdefault("ebsStorageInfo", {})["volumeSize"] = size
        cluster.broker_node_group_info = info

    return apply


def _set_count(params: dict[str, Any]) -> Apply:
    def apply(cluster: FakeKafkaCluster) -> None:
        cluster.number_of_broker_nodes = int(params["targetNumberOfBrokerNodes"])

    return apply


def _set_type(params: dict[str, Any]) -> Apply:
    def apply(cluster: FakeKafkaCluster) -> None:
        info = cluster.broker_node_group_info or {}
        info["instanceType"] = params["targetInstanceType"]
        cluster.broker_node_group_info = info

    return apply


def _set_configuration(params: dict[str, Any]) -> Apply:
    def apply(cluster: FakeKafkaCluster) -> None:
        cluster.configuration_info = params.get("configurationInfo")

    return apply


def _set_version(params: dict[str, Any]) -> Apply:
    def apply(cluster: FakeKafkaCluster) -> None:
        cluster.kafka_version = params["targetKafkaVersion"]
        if params.get("configurationInfo"):
            cluster.configuration_info = params["configurationInfo"]

    return apply


def _set_monitoring(params: dict[str, Any]) -> Apply:
    def apply(cluster: FakeKafkaCluster) -> None:
        cluster.enhanced_monitoring = params.get("enhancedMonitoring", cluster.enhanced_monitoring)
        cluster.open_monitoring = params.get("openMonitoring", cluster.open_monitoring)
        cluster.logging_info = params.get("loggingInfo", cluster.logging_info)

    return apply


def _set_security(params: dict[str, Any]) -> Apply:
    def apply(cluster: FakeKafkaCluster) -> None:
        cluster.client_authentication = params.get(
            "clientAuthentication", cluster.client_authentication
        )
        cluster.encryption_info = params.get("encryptionInfo", cluster.encryption_info)

    return apply


UPDATE_OPERATIONS: dict[str, tuple[str, Callable[[dict[str, Any]], Apply]]] = {
    # KafkaResponse method: (MSK operation, what it changes once complete)
    "update_broker_storage": ("UpdateBrokerStorage", _set_storage),
    "update_broker_count": ("UpdateBrokerCount", _set_count),
    "update_broker_type": ("UpdateBrokerType", _set_type),
    "update_cluster_configuration": ("UpdateClusterConfiguration", _set_configuration),
    "update_cluster_kafka_version": ("UpdateClusterKafkaVersion", _set_version),
    "update_monitoring": ("UpdateMonitoring", _set_monitoring),
    "update_security": ("UpdateSecurity", _set_security),
}
BODY_KEYS = (
    "currentVersion",
    "targetBrokerEBSVolumeInfo",
    "targetNumberOfBrokerNodes",
    "targetInstanceType",
    "configurationInfo",
    "targetKafkaVersion",
    "enhancedMonitoring",
    "openMonitoring",
    "loggingInfo",
    "clientAuthentication",
    "encryptionInfo",
)


def _cluster_arn(response: KafkaResponse) -> str:
    """The ARN from ``/v1/clusters/{arn}/...`` (botocore percent-encodes its slashes)."""
    return unquote(response.parsed_url.path.split("/clusters/", 1)[1].split("/", 1)[0])


_BACKEND_PATCHED = (
    "create_cluster",
    "create_cluster_v2",
    "describe_cluster",
    "describe_cluster_v2",
)
_MOTO: dict[str, Any] = {name: getattr(KafkaBackend, name) for name in _BACKEND_PATCHED}
"""moto's own methods, taken at import: patches delegate to these, never to another
installation's patch, so nested installations do not run twice."""


class Patches:
    """moto's Kafka backend and responder, made to pass through the cluster states."""

    def __init__(self, durations: _DurationsFactory) -> None:
        self.durations = durations
        self.previous = {name: getattr(KafkaBackend, name) for name in _BACKEND_PATCHED}
        # Absent in moto itself; present when an outer installation added them.
        self.previous_updates = {m: vars(KafkaResponse).get(m) for m in UPDATE_OPERATIONS}

    def install(self) -> None:
        for name in ("create_cluster", "create_cluster_v2"):
            setattr(KafkaBackend, name, self._creating(_MOTO[name]))
        for name in ("describe_cluster", "describe_cluster_v2"):
            setattr(KafkaBackend, name, self._describing(_MOTO[name]))
        for method, (operation, change) in UPDATE_OPERATIONS.items():
            setattr(KafkaResponse, method, self._updating(operation, change))

    def uninstall(self) -> None:
        for name, previous in self.previous.items():
            setattr(KafkaBackend, name, previous)
        # What is under way completes, as it would have: moto alone never leaves CREATING.
        for cluster, model in list(_MODELS.items()):
            if model.state in (CREATING, UPDATING):
                model.describes_left = 0
                cluster.state = model.describe(cluster)
        for method, original in self.previous_updates.items():
            if original is None:
                delattr(KafkaResponse, method)
            else:
                setattr(KafkaResponse, method, original)

    def _creating(self, original: Callable[..., Any]) -> Callable[..., Any]:
        patches = self

        def create(backend: KafkaBackend, *args: Any, **kwargs: Any) -> Any:
            result = original(backend, *args, **kwargs)
            arn = result[0]
            cluster = backend.clusters[arn]
            _MODELS[cluster] = ClusterModel(
                arn=arn, durations=patches.durations(), current_version=cluster.current_version
            )
            return result

        return create

    def _describing(self, original: Callable[..., Any]) -> Callable[..., Any]:
        patches = self

        def describe(backend: KafkaBackend, cluster_arn: str) -> Any:
            cluster = backend.clusters.get(cluster_arn)
            if cluster is not None:
                model = model_of(cluster, patches.durations)
                cluster.state = model.describe(cluster)
                cluster.current_version = model.current_version
            return original(backend, cluster_arn)

        return describe

    def _updating(
        self, operation: str, change: Callable[[dict[str, Any]], Apply]
    ) -> Callable[[KafkaResponse], str]:
        patches = self

        def update(response: KafkaResponse) -> str:
            arn = _cluster_arn(response)
            cluster = response.kafka_backend.clusters.get(arn)
            if cluster is None:
                raise NotFoundException(f"Cluster {arn} not found")
            params = {key: response._get_param(key) for key in BODY_KEYS}
            model = model_of(cluster, patches.durations)
            try:
                version = model.update(operation, params["currentVersion"], change(params))
            except AwsError as refusal:
                raise BadRequestException(refusal.message) from None
            cluster.state, cluster.current_version = model.state, version
            operation_arn = arn.replace(":cluster/", ":cluster-operation/", 1)
            return json.dumps(
                {"clusterArn": arn, "clusterOperationArn": f"{operation_arn}/{uuid.uuid4()}"}
            )

        return update
