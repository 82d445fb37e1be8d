"""The captured Pulumi plan as Terraform plan JSON, for checkov's ``terraform_plan`` framework.

pulumi-aws is bridged from the Terraform AWS provider: every ``aws:*`` resource *is* a
Terraform resource with camelCased property names, single-item blocks flattened to objects,
list blocks pluralised and a few attributes renamed. This module undoes that:

- the type token maps to the Terraform type through :data:`TYPE_MAP` (explicit, no guessing;
  a type not in it is reported as unmapped, never dropped silently);
- property names come from the pulumi-aws SDK's own input types (each property's Pulumi name
  beside its snake_case name), so ``ipv6CidrBlock`` is ``ipv6_cidr_block`` as Terraform spells
  it, and the SDK tells a block (an ``...Args`` type, written as a list, as Terraform writes
  every nested block) from a map (``tags``, ``variables``: kept as an object);
- the names the bridge pluralised or renamed go back to Terraform's through :data:`RENAMES`
  (and a Python keyword's trailing underscore, ``and_``, is dropped);
- an input taken from another resource's output (Pulumi's property dependencies) is written as
  Terraform writes a value unknown at plan time: left out of ``values`` (``null`` inside a list)
  with a ``references`` expression in ``configuration``, so checkov's graph connects the two
  (a bucket and its public access block: CKV2_AWS_6);
- secret inputs never leave the process: every value in them is written as ``[secret]``
  (their shape kept, so a check sees a token set or a block present) and the attribute is
  marked in ``sensitive_values``, as Terraform marks a sensitive attribute.
"""

from __future__ import annotations

import importlib
import json
import keyword
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pulumi._types import _py_properties

from blueprint.capture import Plan, PlannedResource
from blueprint.fidelity.facts import write_only

FORMAT_VERSION = "1.2"
"""The Terraform JSON plan format these files follow (Terraform 1.8 and later write 1.2)."""
TERRAFORM_VERSION = "1.9.8"
"""checkov skips a plan file without ``terraform_version``; the version of the format above."""
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"

TYPE_MAP: dict[str, str] = {
    "aws:amp/alertManagerDefinition:AlertManagerDefinition": (
        "aws_prometheus_alert_manager_definition"
    ),
    "aws:amp/ruleGroupNamespace:RuleGroupNamespace": "aws_prometheus_rule_group_namespace",
    "aws:amp/workspace:Workspace": "aws_prometheus_workspace",
    "aws:appautoscaling/policy:Policy": "aws_appautoscaling_policy",
    "aws:appautoscaling/target:Target": "aws_appautoscaling_target",
    "aws:codebuild/project:Project": "aws_codebuild_project",
    "aws:codebuild/webhook:Webhook": "aws_codebuild_webhook",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "aws_cloudwatch_composite_alarm",
    "aws:cloudwatch/dashboard:Dashboard": "aws_cloudwatch_dashboard",
    "aws:cloudwatch/eventRule:EventRule": "aws_cloudwatch_event_rule",
    "aws:cloudwatch/eventTarget:EventTarget": "aws_cloudwatch_event_target",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/instance:Instance": "aws_instance",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/route:Route": "aws_route",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:eks/accessEntry:AccessEntry": "aws_eks_access_entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "aws_eks_access_policy_association",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/cluster:Cluster": "aws_eks_cluster",
    "aws:eks/nodeGroup:NodeGroup": "aws_eks_node_group",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": "aws_eks_pod_identity_association",
    "aws:elasticache/parameterGroup:ParameterGroup": "aws_elasticache_parameter_group",
    "aws:elasticache/replicationGroup:ReplicationGroup": "aws_elasticache_replication_group",
    "aws:elasticache/subnetGroup:SubnetGroup": "aws_elasticache_subnet_group",
    "aws:elasticache/user:User": "aws_elasticache_user",
    "aws:elasticache/userGroup:UserGroup": "aws_elasticache_user_group",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "aws_iam_openid_connect_provider",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": "aws_iam_service_linked_role",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lambda/function:Function": "aws_lambda_function",
    "aws:lambda/permission:Permission": "aws_lambda_permission",
    "aws:msk/cluster:Cluster": "aws_msk_cluster",
    "aws:msk/configuration:Configuration": "aws_msk_configuration",
    "aws:msk/topic:Topic": "aws_msk_topic",
    "aws:budgets/budget:Budget": "aws_budgets_budget",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws_s3_bucket_lifecycle_configuration"
    ),
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretRotation:SecretRotation": "aws_secretsmanager_secret_rotation",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "aws_vpc_security_group_egress_rule"
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "aws_vpc_security_group_ingress_rule"
    ),
}
"""Pulumi type token → Terraform resource type, for every AWS type the program may register."""

RENAMES: dict[str, dict[str, str]] = {
    # Plural list blocks back to Terraform's singular block names.
    "aws_budgets_budget": {  # budgets/budget.go: singular blocks; and/or in filter_expression
        "cost_filters": "cost_filter",
        "notifications": "notification",
        "planned_limits": "planned_limit",
        "ands": "and",
        "ors": "or",
    },
    "aws_appautoscaling_policy": {
        "step_adjustments": "step_adjustment",
        "metric_data_queries": "metric_data_query",
        "metric_specifications": "metric_specification",
    },
    "aws_cloudwatch_event_target": {  # events/target.go: singular blocks under ecs_target
        "capacity_provider_strategies": "capacity_provider_strategy",
        "ordered_placement_strategies": "ordered_placement_strategy",
        "placement_constraints": "placement_constraint",
        "pipeline_parameter_lists": "pipeline_parameter_list",
    },
    "aws_cloudwatch_metric_alarm": {"metric_queries": "metric_query", "name": "alarm_name"},
    "aws_codebuild_project": {
        "environment_variables": "environment_variable",
        "secondary_source_versions": "secondary_source_version",
    },
    "aws_codebuild_webhook": {"filter_groups": "filter_group", "filters": "filter"},
    "aws_eks_addon": {"pod_identity_associations": "pod_identity_association"},
    "aws_eks_node_group": {"taints": "taint"},
    "aws_elasticache_parameter_group": {"parameters": "parameter"},
    "aws_elasticache_replication_group": {
        "log_delivery_configurations": "log_delivery_configuration",
        "node_group_configurations": "node_group_configuration",
    },
    "aws_flow_log": {"tag_field_specifications": "tag_field_specification"},
    "aws_iam_openid_connect_provider": {
        "client_id_lists": "client_id_list",
        "thumbprint_lists": "thumbprint_list",
    },
    "aws_iam_role": {"inline_policies": "inline_policy"},
    "aws_instance": {
        "ebs_block_devices": "ebs_block_device",
        "ephemeral_block_devices": "ephemeral_block_device",
        "network_interfaces": "network_interface",
        "secondary_network_interfaces": "secondary_network_interface",
    },
    "aws_launch_template": {
        "license_specifications": "license_specification",
        "secondary_interfaces": "secondary_interface",
    },
    "aws_nat_gateway": {"availability_zone_addresses": "availability_zone_address"},
    "aws_route_table": {"routes": "route"},
    "aws_s3_bucket": {
        "cors_rules": "cors_rule",
        "grants": "grant",
        "lifecycle_rules": "lifecycle_rule",
        "noncurrent_version_transitions": "noncurrent_version_transition",
        "transitions": "transition",
    },
    "aws_s3_bucket_lifecycle_configuration": {
        "rules": "rule",
        "transitions": "transition",
        "noncurrent_version_transitions": "noncurrent_version_transition",
    },
    "aws_s3_bucket_logging": {"target_grants": "target_grant"},
    "aws_s3_bucket_server_side_encryption_configuration": {"rules": "rule"},
    "aws_secretsmanager_secret": {"replicas": "replica"},
    "aws_secretsmanager_secret_rotation": {
        "external_secret_rotation_metadatas": "external_secret_rotation_metadata"
    },
    "aws_vpc_endpoint": {"subnet_configurations": "subnet_configuration"},
    # Attributes the bridge renamed outright.
    "aws_lambda_function": {"name": "function_name"},
    "aws_lambda_permission": {"function": "function_name"},
}
"""Per Terraform type: SDK names the bridge changed → Terraform's (applied at any depth).

The bridge pluralises Terraform's singular list names (``rule`` → ``rules``) and renames a few
attributes (``function_name`` → ``name``). ``tests/test_checkov_translation.py`` walks every
mapped type's SDK input types and fails on a plural list block that is neither renamed here
nor in :data:`TERRAFORM_PLURALS`.
"""

TERRAFORM_PLURALS: dict[str, frozenset[str]] = {
    "aws_appautoscaling_policy": frozenset({"dimensions", "metrics"}),
    "aws_cloudwatch_event_target": frozenset({"run_command_targets"}),
    # codebuild/project.go names these blocks in the plural itself.
    "aws_codebuild_project": frozenset(
        {"file_system_locations", "secondary_artifacts", "secondary_sources"}
    ),
    "aws_default_security_group": frozenset({"ingress", "egress"}),
    "aws_security_group": frozenset({"ingress", "egress"}),
    "aws_eks_cluster": frozenset({"resources"}),
    "aws_eks_node_group": frozenset({"node_repair_config_overrides"}),
    "aws_launch_template": frozenset(
        {"block_device_mappings", "network_interfaces", "tag_specifications"}
    ),
    "aws_s3_bucket": frozenset({"rules"}),  # replication_configuration.rules
}
"""Per Terraform type: list blocks whose Terraform name is itself plural (kept as they are)."""

SECRET_PLACEHOLDER = "[secret]"
"""Written for a secret input: checkov sees it set (an auth token, say), never its value."""

UNKNOWN_OUTPUTS = frozenset({"region", "tags", "tagsAll"})
"""Outputs never taken for a reference (equal by coincidence, never an identity)."""


@dataclass(frozen=True)
class Address:
    urn: str
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class Translation:
    """The Terraform plan JSON and how each of its addresses maps back to a Pulumi URN."""

    document: dict[str, Any]
    addresses: dict[str, str] = field(default_factory=dict)
    """Terraform address → URN."""
    list_blocks: dict[str, set[str]] = field(default_factory=dict)
    """Terraform type → names of its list blocks written (after :data:`RENAMES`)."""
    unmapped: Counter[str] = field(default_factory=Counter)
    """Custom resource types with no Terraform type (and not Kubernetes): not scanned."""

    @property
    def types(self) -> set[str]:
        return {address.split(".", 1)[0] for address in self.addresses}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def terraform_name(pulumi_name: str) -> str:
    """A Terraform resource name from a Pulumi logical name (letters, digits, ``_``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", pulumi_name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"r_{cleaned}"


# --- the SDK's input types: names and shapes -------------------------------------------------


@dataclass(frozen=True)
class Property:
    python_name: str
    shape: str
    """``scalar``, ``map``, ``block`` (one object), ``blocks`` (a list) or ``asset``."""
    args: type | None
    """The nested ``...Args`` type of a block."""


_ARGS = re.compile(r"ForwardRef\('(\w+Args)'\)")


@cache
def _sdk_module(token: str) -> Any:
    module = token.split(":")[1].split("/", maxsplit=1)[0]
    return importlib.import_module(
        f"pulumi_aws.{module}_" if module == "lambda" else f"pulumi_aws.{module}"
    )


@cache
def properties(args: type) -> dict[str, Property]:
    """Pulumi name → :class:`Property` for one SDK input type."""
    module = importlib.import_module(args.__module__.rsplit(".", 1)[0])
    found: dict[str, Property] = {}
    for sdk_name, pulumi_name, prop in _py_properties(args):
        # A Python keyword gets a trailing underscore in the SDK (``and_``); Terraform's is ``and``.
        keyword_clash = sdk_name.endswith("_") and keyword.iskeyword(sdk_name[:-1])
        python_name = sdk_name[:-1] if keyword_clash else sdk_name
        annotation = str(prop.fget.__annotations__.get("return", "") if prop.fget else "")
        nested = _ARGS.search(annotation)
        head = annotation.removeprefix("typing.Union[")
        if "pulumi.asset" in annotation:
            shape, nested_type = "asset", None
        elif nested:
            shape = "blocks" if head.startswith("typing.Sequence[") else "block"
            nested_type = getattr(module, nested.group(1), None)
        elif head.startswith("typing.Mapping["):
            shape, nested_type = "map", None
        else:
            shape, nested_type = "scalar", None
        found[pulumi_name] = Property(python_name, shape, nested_type)
    return found


@cache
def resource_args(token: str) -> type | None:
    """The resource's own args type: the one its module exports (``...InitArgs`` where the
    codegen renamed it around a same-named nested type, as for the S3 encryption config)."""
    name = token.rsplit(":", 1)[1]
    resource = getattr(_sdk_module(token), name, None)
    if resource is None:
        return None
    module = importlib.import_module(resource.__module__)
    exported = [n for n in getattr(module, "__all__", []) if n.endswith("Args")]
    return getattr(module, exported[0]) if len(exported) == 1 else None


def mask(value: Any) -> Any:
    """A secret input with its shape kept (blocks stay blocks, maps keep their keys) and
    every value replaced by :data:`SECRET_PLACEHOLDER`."""
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return SECRET_PLACEHOLDER


@cache
def _outputs_of(token: str) -> frozenset[str]:
    """The resource's output property names (Pulumi names), from the SDK resource class."""
    resource = getattr(_sdk_module(token), token.rsplit(":", 1)[1], None)
    return (
        frozenset(pulumi_name for _, pulumi_name, _ in _py_properties(resource))
        if resource
        else frozenset()
    )


def _number(value: Any) -> Any:
    """Pulumi sends every number as a float; Terraform writes whole numbers as integers."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _values(
    args: type | None,
    inputs: dict[str, Any],
    renames: dict[str, str],
    list_blocks: set[str] | None = None,
) -> dict[str, Any]:
    props = properties(args) if args else {}
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        if key.startswith("__") or value is None:
            continue
        prop = props.get(key) or Property(snake(key), "scalar", None)
        name = renames.get(prop.python_name, prop.python_name)
        if prop.shape == "asset":
            continue  # a function's code: Terraform sees a zip file, nothing checkov reads
        if prop.shape == "map" or (prop.shape == "scalar" and isinstance(value, dict)):
            values[name] = value
        elif prop.shape == "block" and isinstance(value, dict):
            values[name] = [_values(prop.args, value, renames, list_blocks)]
        elif prop.shape in ("block", "blocks") and isinstance(value, list):
            if list_blocks is not None:
                list_blocks.add(name)
            values[name] = [
                _values(prop.args, v, renames, list_blocks) if isinstance(v, dict) else v
                for v in value
            ]
        elif isinstance(value, list):
            values[name] = [_number(v) for v in value]
        else:
            values[name] = _number(value)
    return values


# --- references --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """An attribute another resource may take from a resource: its Terraform path, its value,
    and whether Terraform knows it at plan time (the source's own input) or not (computed)."""

    attribute: str
    value: str
    known: bool


def _output_attributes(resource: PlannedResource, tf_type: str) -> list[Output]:
    """What ``resource`` offers for references: its id, then its string outputs, nested
    single blocks as Terraform paths (``vpc_config[0].cluster_security_group_id``)."""
    renames = RENAMES.get(tf_type, {})
    found = [Output("id", resource.id, known=False)] if resource.id else []

    def walk(outputs: dict[str, Any], inputs: dict[str, Any], prefix: str) -> None:
        for key, value in outputs.items():
            if key in UNKNOWN_OUTPUTS or (key == "id" and not prefix):
                continue
            name = renames.get(snake(key), snake(key))
            given = inputs.get(key) if isinstance(inputs, dict) else None
            if isinstance(value, str) and value:
                found.append(Output(f"{prefix}{name}", value, known=given == value))
            elif isinstance(value, dict):
                walk(value, given if isinstance(given, dict) else {}, f"{prefix}{name}[0].")

    walk(resource.outputs, resource.inputs, "")
    return found


Sources = list[tuple[Address, list[Output]]]


def _reference(value: str, sources: Sources) -> tuple[list[str], bool] | None:
    """The references for ``value`` if it is taken from a source, and whether it is known."""
    for address, outputs in sources:
        for output in outputs:
            if value == output.value:
                return [f"{address}.{output.attribute}", str(address)], output.known
    return None


def _scalar(value: Any, sources: Sources) -> tuple[Any, list[str]]:
    """A scalar: ``None`` (unknown at plan time) when computed by a source, else itself."""
    found = _reference(value, sources) if isinstance(value, str) else None
    if found is None:
        return value, []
    references, known = found
    return (value if known else None), references


def _block(body: dict[str, Any], sources: Sources) -> tuple[dict[str, Any], dict[str, Any]]:
    """One block's attributes and its expressions, as Terraform writes them."""
    values: dict[str, Any] = {}
    expressions: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            pairs = [_block(v, sources) for v in value]
            values[key] = [v for v, _ in pairs]
            if any(e for _, e in pairs):
                expressions[key] = [e for _, e in pairs]
            continue
        references: list[str] = []
        if isinstance(value, list):  # a list of scalars: unknown elements become null
            scalars = [_scalar(v, sources) for v in value]
            new: Any = [v for v, _ in scalars]
            references = [r for _, refs in scalars for r in refs]
        elif isinstance(value, dict):  # a map: an unknown value leaves its key out
            entries = {k: _scalar(v, sources) for k, v in value.items()}
            new = {k: v for k, (v, _) in entries.items() if v is not None}
            references = [r for _, refs in entries.values() for r in refs]
        else:
            new, references = _scalar(value, sources)
        if new is not None:
            values[key] = new
        if references:
            # One expression per attribute, as Terraform writes it (checkov reads no deeper).
            expressions[key] = {"references": references}
    return values, expressions


# --- the document ----------------------------------------------------------------------------


def _provider_tags(resource: PlannedResource, by_urn: dict[str, PlannedResource]) -> dict[str, str]:
    provider = by_urn.get(resource.provider_urn)
    raw = provider.inputs.get("defaultTags") if provider else None
    if isinstance(raw, str):
        raw = json.loads(raw)
    tags = raw.get("tags", {}) if isinstance(raw, dict) else {}
    return {str(k): str(v) for k, v in tags.items()}


def _provider_config(plan: Plan) -> dict[str, Any]:
    providers = [r for r in plan.resources if r.type == "pulumi:providers:aws"]
    config: dict[str, Any] = {}
    for index, provider in enumerate(providers):
        key = "aws" if index == 0 else f"aws.{terraform_name(provider.name)}"
        entry: dict[str, Any] = {
            "name": "aws",
            "full_name": AWS_PROVIDER,
            "expressions": {"region": {"constant_value": provider.inputs.get("region")}},
        }
        if index:
            entry["alias"] = terraform_name(provider.name)
        config[key] = entry
    return config


def addresses_of(plan: Plan) -> dict[str, Address]:
    """URN → Terraform address for every mapped resource, unique per type."""
    taken: Counter[str] = Counter()
    found: dict[str, Address] = {}
    for resource in plan.resources:
        tf_type = TYPE_MAP.get(resource.type)
        if not tf_type:
            continue
        name = terraform_name(resource.name)
        taken[f"{tf_type}.{name}"] += 1
        if taken[f"{tf_type}.{name}"] > 1:
            name = f"{name}_{taken[f'{tf_type}.{name}']}"
        found[resource.urn] = Address(resource.urn, tf_type, name)
    return found


def is_kubernetes(resource: PlannedResource) -> bool:
    return resource.type.startswith("kubernetes:")


def needs_translation(resource: PlannedResource) -> bool:
    """Cloud resources: custom, not a provider, not Kubernetes (rendered as manifests)."""
    return (
        resource.custom
        and not resource.type.startswith("pulumi:providers:")
        and not is_kubernetes(resource)
    )


def translate(plan: Plan) -> Translation:
    by_urn = {r.urn: r for r in plan.resources}
    addresses = addresses_of(plan)
    planned: list[dict[str, Any]] = []
    configured: list[dict[str, Any]] = []
    translation = Translation(document={})
    for resource in plan.resources:
        if not needs_translation(resource):
            continue
        address = addresses.get(resource.urn)
        if address is None:
            translation.unmapped[resource.type] += 1
            continue
        renames = RENAMES.get(address.type, {})
        hidden = write_only(resource.type)
        secret = set(resource.secret_inputs) - hidden
        args = resource_args(resource.type)
        public = {k: (mask(v) if k in secret else v) for k, v in resource.inputs.items()}
        # Terraform never puts a write-only argument's value in a plan: always null.
        public |= {k: None for k in hidden if k in public}
        values = _values(
            args, public, renames, translation.list_blocks.setdefault(address.type, set())
        )
        expressions: dict[str, Any] = {}
        for key, urns in resource.property_dependencies.items():
            sources = [
                (addresses[urn], _output_attributes(by_urn[urn], addresses[urn].type))
                for urn in urns
                if urn in addresses and urn in by_urn
            ]
            name = _tf_key(resource, key, renames)
            if not sources or name not in values:
                continue
            new, expression = _block({name: values.pop(name)}, sources)
            values.update(new)
            expressions.update(expression)
        if args and "tagsAll" in _outputs_of(resource.type):
            # Terraform's tags_all: the provider's default tags under the resource's own.
            values["tags_all"] = {**_provider_tags(resource, by_urn), **values.get("tags", {})}
        sensitive = {_tf_key(resource, key, renames): True for key in secret}
        planned.append(
            {
                "address": str(address),
                "mode": "managed",
                "type": address.type,
                "name": address.name,
                "provider_name": AWS_PROVIDER,
                "schema_version": 0,
                "values": values,
                "sensitive_values": sensitive,
            }
        )
        configured.append(
            {
                "address": str(address),
                "mode": "managed",
                "type": address.type,
                "name": address.name,
                "provider_config_key": "aws",
                "expressions": expressions,
            }
        )
        translation.addresses[str(address)] = resource.urn
    translation.document = {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "configuration": {
            "provider_config": _provider_config(plan),
            "root_module": {"resources": configured},
        },
        "applyable": True,
        "complete": True,
        "errored": False,
        # Not Terraform's: where this plan came from (Terraform and checkov ignore it).
        "pulumi": {"project": plan.project, "stack": plan.stack},
    }
    return translation


def _tf_key(resource: PlannedResource, key: str, renames: dict[str, str]) -> str:
    args = resource_args(resource.type)
    prop = properties(args).get(key) if args else None
    python_name = prop.python_name if prop else snake(key)
    return renames.get(python_name, python_name)
