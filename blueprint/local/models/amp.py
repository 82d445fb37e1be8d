"""Amazon Managed Service for Prometheus: what moto leaves out.

* **Alert manager definitions** (moto has none): Create/Describe/Put/DeleteAlertManagerDefinition,
  one per workspace. API reference (botocore 1.44.8 ``amp/2020-08-01``): the data is "the
  alert manager definition" YAML (``AlertManagerDefinitionData``: ``alertmanager_config`` holding
  the Alertmanager configuration as a string, see
  https://docs.aws.amazon.com/prometheus/latest/APIReference/yaml-AlertManagerDefinitionData.html);
  Create on a workspace that already has one is a ``ConflictException``; Describe/Put/Delete of
  none a ``ResourceNotFoundException``. The model validates what Alertmanager itself refuses on
  load (a route naming a receiver that is not defined: "undefined receiver"), and that the
  wrapper key is present; it does not model SigV4 delivery.
* **Workspace encryption**: CreateWorkspace's ``kmsKeyArn`` (pattern
  ``arn:aws[-a-z]*:kms:[-a-z0-9]+:[0-9]{12}:key/[-a-f0-9]+``: a key ARN, never an alias) is
  dropped by moto; the model checks it, keeps it and returns it from DescribeWorkspace.
* **Logging**: CreateLoggingConfiguration's ``logGroupArn`` must match
  ``arn:aws...:logs:<region>:<account>:log-group:<name>:*`` and "This log group must exist prior
  to calling this operation" (API reference); moto checks neither.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import yaml
from moto.amp import urls
from moto.amp.exceptions import AmpException
from moto.amp.responses import PrometheusServiceResponse
from moto.core.utils import unix_time
from moto.logs.models import logs_backends

KMS_KEY_ARN = re.compile(r"^arn:aws[-a-z]*:kms:[-a-z0-9]+:[0-9]{12}:key/[-a-f0-9]+$")
LOG_GROUP_ARN = re.compile(
    r"^arn:aws[a-z0-9-]*:logs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"log-group:(?P<name>[A-Za-z0-9._#/-]{1,512}):\*$"
)
ALERT_MANAGER_PATH = "{0}/workspaces/(?P<workspace_id>[^/]+)/alertmanager/definition$"


class ValidationException(AmpException):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


class ConflictException(AmpException):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ConflictException", message)


class DefinitionNotFound(AmpException):
    code = 404

    def __init__(self, workspace_id: str) -> None:
        super().__init__(
            "ResourceNotFoundException", f"Alert manager definition not found in {workspace_id}"
        )


@dataclass
class AlertManagerDefinition:
    data: str
    """As sent: base64 of the YAML (the JSON protocol's blob encoding)."""
    created_at: float = field(default_factory=unix_time)
    modified_at: float = field(default_factory=unix_time)

    def yaml(self) -> str:
        return base64.b64decode(self.data).decode()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": {"statusCode": "ACTIVE"},
            "data": self.data,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
        }


@dataclass
class AmpState:
    """What the model adds to moto's workspaces, by (account, region, workspace id)."""

    definitions: dict[tuple[str, str, str], AlertManagerDefinition] = field(default_factory=dict)
    kms_keys: dict[tuple[str, str, str], str] = field(default_factory=dict)


def definition_problem(document: str) -> str | None:
    """Why AMP would refuse an alert manager definition, or None."""
    try:
        outer = yaml.safe_load(document)
    except yaml.YAMLError as exc:
        return f"definition is not YAML: {exc}"
    config_text = outer.get("alertmanager_config") if isinstance(outer, dict) else None
    if not isinstance(config_text, str):
        return "definition must hold alertmanager_config (the Alertmanager configuration)"
    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError as exc:
        return f"alertmanager_config is not YAML: {exc}"
    if not isinstance(config, dict) or not isinstance(config.get("route"), dict):
        return "alertmanager_config must have a route"
    receivers = {r.get("name") for r in config.get("receivers") or [] if isinstance(r, dict)}
    for receiver in _route_receivers(config["route"]):
        if receiver not in receivers:
            return f'undefined receiver "{receiver}" used in route'
    return None


def _route_receivers(route: dict[str, Any]) -> list[str]:
    found = [route["receiver"]] if route.get("receiver") else []
    for child in route.get("routes") or []:
        if isinstance(child, dict):
            found += _route_receivers(child)
    return found


_PATCHED = ("create_workspace", "describe_workspace", "create_logging_configuration")
_ADDED = (
    "create_alert_manager_definition",
    "describe_alert_manager_definition",
    "put_alert_manager_definition",
    "delete_alert_manager_definition",
)
_MOTO: dict[str, Callable[[PrometheusServiceResponse], str]] = {
    name: getattr(PrometheusServiceResponse, name) for name in _PATCHED
}


class Patches:
    def __init__(self, state: AmpState) -> None:
        self.state = state
        self.previous = {
            name: PrometheusServiceResponse.__dict__.get(name) for name in (*_PATCHED, *_ADDED)
        }
        self.had_path = ALERT_MANAGER_PATH in urls.url_paths

    def install(self) -> None:
        patches = self

        def create_workspace(response: PrometheusServiceResponse) -> str:
            return patches.create_workspace(response)

        def describe_workspace(response: PrometheusServiceResponse) -> str:
            return patches.describe_workspace(response)

        def create_logging_configuration(response: PrometheusServiceResponse) -> str:
            return patches.create_logging_configuration(response)

        def create_alert_manager_definition(response: PrometheusServiceResponse) -> Any:
            return patches.create_definition(response)

        def describe_alert_manager_definition(response: PrometheusServiceResponse) -> str:
            return json.dumps({"alertManagerDefinition": patches._definition(response).to_dict()})

        def put_alert_manager_definition(response: PrometheusServiceResponse) -> Any:
            return patches.put_definition(response)

        def delete_alert_manager_definition(response: PrometheusServiceResponse) -> Any:
            patches._definition(response)
            del patches.state.definitions[patches._key(response)]
            return "", {"status": 202}

        for method in (
            create_workspace,
            describe_workspace,
            create_logging_configuration,
            create_alert_manager_definition,
            describe_alert_manager_definition,
            put_alert_manager_definition,
            delete_alert_manager_definition,
        ):
            setattr(PrometheusServiceResponse, method.__name__, method)
        urls.url_paths[ALERT_MANAGER_PATH] = PrometheusServiceResponse.dispatch

    def uninstall(self) -> None:
        for name, previous in self.previous.items():
            if previous is None:
                delattr(PrometheusServiceResponse, name)
            else:
                setattr(PrometheusServiceResponse, name, previous)
        if not self.had_path:
            urls.url_paths.pop(ALERT_MANAGER_PATH, None)

    # --- workspaces ---------------------------------------------------------------------

    def _where(self, response: PrometheusServiceResponse, workspace_id: str) -> tuple[str, ...]:
        return (response.current_account, response.region, workspace_id)

    def create_workspace(self, response: PrometheusServiceResponse) -> str:
        key_arn = json.loads(response.body or "{}").get("kmsKeyArn")
        if key_arn is not None and not KMS_KEY_ARN.match(key_arn):
            raise ValidationException(f"kmsKeyArn {key_arn!r} is not a KMS key ARN")
        body = _MOTO["create_workspace"](response)
        if key_arn is not None:
            created = json.loads(body)
            where = self._where(response, created["workspaceId"])
            self.state.kms_keys[(where[0], where[1], where[2])] = key_arn
            created["kmsKeyArn"] = key_arn
            body = json.dumps(created)
        return body

    def describe_workspace(self, response: PrometheusServiceResponse) -> str:
        body = _MOTO["describe_workspace"](response)
        described = json.loads(body)
        workspace = described.get("workspace", {})
        where = self._where(response, workspace.get("workspaceId", ""))
        key_arn = self.state.kms_keys.get((where[0], where[1], where[2]))
        if key_arn is not None:
            workspace["kmsKeyArn"] = key_arn
        return json.dumps(described)

    def create_logging_configuration(self, response: PrometheusServiceResponse) -> str:
        arn = str(response._get_param("logGroupArn") or "")
        match = LOG_GROUP_ARN.match(arn)
        if match is None:
            raise ValidationException(f"logGroupArn {arn!r} must be a log group ARN ending in :*")
        groups = logs_backends[match["account"]][match["region"]].groups
        if match["name"] not in groups:
            raise ValidationException(f"log group {match['name']} does not exist")
        return _MOTO["create_logging_configuration"](response)

    # --- alert manager definitions ------------------------------------------------------

    def _key(self, response: PrometheusServiceResponse) -> tuple[str, str, str]:
        workspace_id = unquote(response.path).split("/")[-3]
        # The workspace must exist (moto raises its own not-found error).
        response.amp_backend.describe_workspace(workspace_id)
        return (response.current_account, response.region, workspace_id)

    def _definition(self, response: PrometheusServiceResponse) -> AlertManagerDefinition:
        key = self._key(response)
        if key not in self.state.definitions:
            raise DefinitionNotFound(key[2])
        return self.state.definitions[key]

    def _data(self, response: PrometheusServiceResponse) -> str:
        data = str(json.loads(response.body or "{}").get("data") or "")
        problem = definition_problem(base64.b64decode(data).decode() if data else "")
        if problem:
            raise ValidationException(problem)
        return data

    def create_definition(self, response: PrometheusServiceResponse) -> Any:
        key = self._key(response)
        if key in self.state.definitions:
            raise ConflictException(f"An alert manager definition already exists in {key[2]}")
        definition = AlertManagerDefinition(self._data(response))
        self.state.definitions[key] = definition
        return json.dumps({"status": {"statusCode": "CREATING"}}), {"status": 202}

    def put_definition(self, response: PrometheusServiceResponse) -> Any:
        definition = self._definition(response)
        definition.data = self._data(response)
        definition.modified_at = unix_time()
        return json.dumps({"status": {"statusCode": "UPDATING"}}), {"status": 202}
