"""Lambda functions and Secrets Manager rotation: stored in moto, rotations run in-process.

moto stores a function but runs one only in Docker. The local deploy instead loads the
function's own handler file and registers it with the AWS models (``blueprint/local/models``),
whose RotateSecret invokes it step by step as Secrets Manager does, retries included. The
function's AWS calls go to the same moto. One thing is answered by a model instead of the
network: the handler's AUTH probe of the cache, since nothing listens at a moto endpoint; the
replication group's model says which passwords it accepts (its AUTH tokens, or with RBAC its
user group's ``default`` user's passwords).

A moto server (``--endpoint``) in this process shares moto's state and runs the rotation the
same way; one in another process cannot run the function (moto would need Docker), and the
rotation is reported as not applied rather than pretended.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.elasticache.models import elasticache_backends
from moto.secretsmanager.models import secretsmanager_backends

from blueprint.local import models
from blueprint.local.registry import Created, Ctx, translates

ROTATION_INPUTS = ("rotationLambdaArn", "rotationRules", "rotateImmediately")


def _runs_here(ctx: Ctx, secret_arn: str) -> bool:
    """Whether RotateSecret for ``secret_arn`` is answered in this process, with the models:
    in-process moto, or a moto server whose state is this process's (the secret is there)."""
    if models.active() is None:
        return False
    if ctx.target.endpoint_url is None:
        return True
    backend = secretsmanager_backends[ctx.account][ctx.region]
    return secret_arn in backend.secrets


def _archive(assets: dict[str, Any]) -> bytes:
    """The deployment package Pulumi would upload: the archive's files, zipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, asset in sorted(assets.items()):
            archive.write(asset["path"], arcname=name)
    return buffer.getvalue()


def _request(ctx: Ctx, name: str) -> dict[str, Any]:
    inputs = ctx.inputs
    return {
        "FunctionName": name,
        "Runtime": inputs["runtime"],
        "Role": inputs["role"],
        "Handler": inputs["handler"],
        "Code": {"ZipFile": _archive(inputs["code"]["assets"])},
        "Timeout": inputs.get("timeout", 3),
        "MemorySize": inputs.get("memorySize", 128),
        "Architectures": inputs.get("architectures", ["x86_64"]),
        "Environment": {"Variables": (inputs.get("environment") or {}).get("variables", {})},
        "Tags": ctx.tags,
    }


@translates("aws:lambda/function:Function")
def lambda_function(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    inputs = ctx.inputs
    request = _request(ctx, name)
    optional = {"description": "Description", "kmsKeyArn": "KMSKeyArn"}
    request |= {api: inputs[key] for key, api in optional.items() if inputs.get(key)}
    if vpc := inputs.get("vpcConfig"):
        request["VpcConfig"] = {
            "SubnetIds": vpc.get("subnetIds", []),
            "SecurityGroupIds": vpc.get("securityGroupIds", []),
        }
    arn = ctx.client("lambda").create_function(**request)["FunctionArn"]
    if (active := models.active()) is not None:
        _register(active, ctx, arn, request)
    return Created(
        name,
        {
            "arn": arn,
            "name": name,
            "qualifiedArn": f"{arn}:$LATEST",
            "version": "$LATEST",
            "invokeArn": (
                f"arn:aws:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{arn}"
                "/invocations"
            ),
        },
        unapplied=["loggingConfig"] if inputs.get("loggingConfig") else [],
    )


def reattach(ctx: Ctx, arn: str) -> None:
    """A function an earlier deploy made, reused unchanged: its handler runs here again."""
    if (active := models.active()) is not None:
        _register(active, ctx, arn, _request(ctx, arn.rsplit(":", 1)[-1]))


def _register(active: models.AwsModels, ctx: Ctx, arn: str, request: dict[str, Any]) -> None:
    """Make the function's own handler what Secrets Manager invokes for ``arn``."""
    module_name, function_name = str(request["Handler"]).rsplit(".", 1)
    asset = ctx.inputs["code"]["assets"].get(f"{module_name}.py")
    if asset is None:
        return  # not a single-file Python handler: stored, never run
    module = _load(Path(asset["path"]), f"blueprint_local_{ctx.name.replace('-', '_')}")
    if hasattr(module, "accepts"):
        setattr(module, "accepts", _cache_probe(active, ctx.region, ctx.account))  # noqa: B010
    active.register_rotation_function(
        arn,
        getattr(module, function_name),
        timeout_seconds=int(request["Timeout"]),
        environment=dict(request["Environment"]["Variables"]),
    )


def _load(path: Path, name: str) -> ModuleType:
    """A fresh copy of the handler module (its own globals, so the probe can be replaced)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cache_probe(active: models.AwsModels, region: str, account: str) -> Callable[..., bool]:
    """``accepts(host, port, password)`` answered by the model of the group at ``host``."""

    def accepts(host: str, port: int, password: str, *, use_tls: bool = True) -> bool:
        group_id = _group_at(host, region, account)
        group = active.replication_group(group_id, region=region, account_id=account)
        return group.accepts(password)

    return accepts


def _group_at(host: str, region: str, account: str) -> str:
    # Read from moto's backend, not DescribeReplicationGroups: a describe would advance the
    # model's clock, and a probe is no API call.
    for group in elasticache_backends[account][region].replication_groups.values():
        addresses = {getattr(group, "configuration_endpoint", {}).get("address")}
        addresses |= {node.get("primary_endpoint_address") for node in group.node_groups}
        if host in addresses:
            return str(group.replication_group_id)
    raise ConnectionError(f"nothing listens at {host}")


@translates("aws:lambda/permission:Permission")
def lambda_permission(ctx: Ctx) -> Created:
    statement = ctx.inputs.get("statementId") or ctx.physical_name("statementId")
    request: dict[str, Any] = {
        "FunctionName": ctx.inputs["function"],
        "StatementId": statement,
        "Action": ctx.inputs["action"],
        "Principal": ctx.inputs["principal"],
    }
    optional = {"sourceArn": "SourceArn", "sourceAccount": "SourceAccount"}
    request |= {api: ctx.inputs[key] for key, api in optional.items() if ctx.inputs.get(key)}
    ctx.client("lambda").add_permission(**request)
    return Created(statement, {"statementId": statement})


@translates("aws:secretsmanager/secretRotation:SecretRotation")
def secret_rotation(ctx: Ctx) -> Created:
    secret_id = ctx.inputs["secretId"]
    if not _runs_here(ctx, secret_id):
        # A moto server elsewhere cannot run the function (Docker): configured nowhere, said so.
        return Created(secret_id, {"rotationEnabled": False}, unapplied=list(ROTATION_INPUTS))
    rules = ctx.inputs.get("rotationRules") or {}
    request: dict[str, Any] = {
        "SecretId": secret_id,
        "RotationLambdaARN": ctx.inputs["rotationLambdaArn"],
        "RotateImmediately": bool(ctx.inputs.get("rotateImmediately", True)),
    }
    if rules.get("automaticallyAfterDays"):
        request["RotationRules"] = {"AutomaticallyAfterDays": rules["automaticallyAfterDays"]}
    # Synchronous here; in AWS RotateSecret returns at once and the rotation runs after it,
    # so a failed rotation does not fail `pulumi up` there either: the deploy reports it.
    ctx.client("secretsmanager").rotate_secret(**request)
    return Created(secret_id, {"rotationEnabled": True})
