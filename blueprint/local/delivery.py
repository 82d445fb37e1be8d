"""CodeBuild: the in-VPC deploy runner's project (its webhook is simulated: see below).

moto stores a project with its source, environment, VPC and logs configuration; it has no
webhook API (CreateWebhook would need the GitHub connection anyway), so the webhook comes from
the offline mocks and is reported as simulated.
"""

from __future__ import annotations

from typing import Any

from blueprint.local.registry import Created, Ctx, translates

PROJECT_UNAPPLIED = ("encryptionKey", "concurrentBuildLimit")
"""Inputs of CreateProject that moto's CodeBuild drops (moto 5: codebuild/responses.py)."""


def _project_request(ctx: Ctx, name: str) -> dict[str, Any]:
    inputs = ctx.inputs
    request: dict[str, Any] = {
        "name": name,
        "source": api_shape(inputs["source"]),
        "artifacts": api_shape(inputs["artifacts"]),
        "environment": api_shape(inputs["environment"]),
        "serviceRole": inputs["serviceRole"],
        "tags": [{"key": k, "value": v} for k, v in sorted(ctx.tags.items())],
    }
    optional = {
        "description": "description",
        "buildTimeout": "timeoutInMinutes",
        "queuedTimeout": "queuedTimeoutInMinutes",
        "logsConfig": "logsConfig",
        "vpcConfig": "vpcConfig",
    }
    for key, api in optional.items():
        if inputs.get(key) is not None:
            request[api] = api_shape(inputs[key])
    return request


def api_shape(value: Any) -> Any:
    """CodeBuild's API is camelCase like Pulumi's inputs, except where the bridge spells a
    name differently (the API's ``cloudWatchLogs`` is ``cloudwatchLogs``)."""
    renames = {"cloudwatchLogs": "cloudWatchLogs"}
    if isinstance(value, dict):
        return {renames.get(k, k): api_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [api_shape(v) for v in value]
    return value


@translates("aws:codebuild/project:Project")
def codebuild_project(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    project = ctx.client("codebuild").create_project(**_project_request(ctx, name))["project"]
    return Created(
        name,
        {"name": name, "arn": project["arn"]},
        unapplied=[key for key in PROJECT_UNAPPLIED if ctx.inputs.get(key) is not None],
    )
