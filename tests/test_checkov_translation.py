"""The plan as checkov reads it: Terraform plan JSON and Kubernetes manifests (no checkov run).

Each test asserts a property of the translation that a checkov check depends on: the
Terraform type, a block written as a list, a map kept a map, a pluralised name back in the
singular, a reference where Terraform would have one, a secret that never leaves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from blueprint.capture import Plan, capture_program
from blueprint.checkov import manifests as k8s
from blueprint.checkov import tfplan
from tests.conftest import STACKS, stack_plan
from tests.fixtures.checkov.insecure import program as insecure_program


def _planned(translation: tfplan.Translation, address: str) -> dict[str, Any]:
    resources = translation.document["planned_values"]["root_module"]["resources"]
    return next(r for r in resources if r["address"] == address)


def _configured(translation: tfplan.Translation, address: str) -> dict[str, Any]:
    resources = translation.document["configuration"]["root_module"]["resources"]
    return next(r for r in resources if r["address"] == address)


def _one(translation: tfplan.Translation, tf_type: str, suffix: str) -> dict[str, Any]:
    found = [a for a in translation.addresses if a.startswith(f"{tf_type}.") and a.endswith(suffix)]
    assert len(found) == 1, found
    return _planned(translation, found[0])


@pytest.fixture(scope="module")
def prod_translation() -> tfplan.Translation:
    return tfplan.translate(stack_plan("prod"))


@pytest.fixture(scope="module")
def insecure() -> tuple[Plan, tfplan.Translation]:
    plan = capture_program(insecure_program, stack="insecure")
    return plan, tfplan.translate(plan)


# --- the document checkov requires -------------------------------------------------------


def test_document_has_what_checkov_needs_to_read_it(prod_translation: tfplan.Translation) -> None:
    document = prod_translation.document
    # checkov silently skips a plan without terraform_version.
    assert document["format_version"] == "1.2" and document["terraform_version"]
    planned = document["planned_values"]["root_module"]["resources"]
    configured = document["configuration"]["root_module"]["resources"]
    assert [r["address"] for r in planned] == [r["address"] for r in configured]
    for resource in planned:
        assert resource["mode"] == "managed"
        assert resource["address"] == f"{resource['type']}.{resource['name']}"
    assert len({r["address"] for r in planned}) == len(planned)
    provider = document["configuration"]["provider_config"]["aws"]
    assert provider["expressions"]["region"]["constant_value"] == "eu-central-1"


# --- types ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_cloud_resource_of_every_stack_is_translated(stack: str) -> None:
    plan = stack_plan(stack)
    translation = tfplan.translate(plan)
    # Every custom resource of the stacks has a Terraform AWS type.
    assert dict(translation.unmapped) == {}
    aws = [r for r in plan.resources if r.custom and r.type.startswith("aws:")]
    assert sorted(translation.addresses.values()) == sorted(r.urn for r in aws)


def test_unmapped_types_are_reported_not_dropped() -> None:
    def program() -> None:
        import pulumi_aws as aws  # noqa: PLC0415

        aws.sqs.Queue("alerts")  # not in the map

    translation = tfplan.translate(capture_program(program))
    assert dict(translation.unmapped) == {"aws:sqs/queue:Queue": 1}
    assert translation.addresses == {}


def test_every_mapped_token_is_an_sdk_resource_with_its_own_args() -> None:
    for token, tf_type in tfplan.TYPE_MAP.items():
        args = tfplan.resource_args(token)
        assert args is not None, token
        assert tf_type.startswith("aws_") and tf_type == tf_type.lower()
    assert tfplan.TYPE_MAP["aws:ec2/vpc:Vpc"] == "aws_vpc"
    assert tfplan.TYPE_MAP["aws:s3/bucket:Bucket"] == "aws_s3_bucket"


# --- names and shapes -------------------------------------------------------------------


def test_single_blocks_become_lists_and_maps_stay_maps(
    prod_translation: tfplan.Translation,
) -> None:
    cluster = _one(prod_translation, "aws_eks_cluster", "_cluster_eks")["values"]
    assert isinstance(cluster["vpc_config"], list) and len(cluster["vpc_config"]) == 1
    assert cluster["vpc_config"][0]["endpoint_public_access"] is False
    assert cluster["access_config"] == [
        {"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False}
    ]
    assert isinstance(cluster["tags_all"], dict) and cluster["tags_all"]["environment"] == "prod"

    msk = _one(prod_translation, "aws_msk_cluster", "_streaming_cluster")["values"]
    transit = msk["encryption_info"][0]["encryption_in_transit"][0]
    assert transit == {"client_broker": "TLS", "in_cluster": True}
    assert msk["client_authentication"][0]["sasl"][0]["iam"] is True

    node_group = _one(prod_translation, "aws_eks_node_group", "_serving")["values"]
    assert node_group["labels"] == {"feature-platform/pool": "serving"}  # a map, not a block
    assert isinstance(node_group["scaling_config"], list)

    rotation = _one(prod_translation, "aws_lambda_function", "_rotation")["values"]
    # A map inside a block; its one value is the group's id, unknown at plan time.
    assert rotation["environment"][0]["variables"] == {}
    assert "code" not in rotation  # the asset archive: nothing a check reads


def test_pluralised_blocks_get_terraforms_singular_names(
    prod_translation: tfplan.Translation,
) -> None:
    lifecycle = _one(
        prod_translation, "aws_s3_bucket_lifecycle_configuration", "_offline_store_lifecycle"
    )["values"]
    assert "rules" not in lifecycle and isinstance(lifecycle["rule"], list)
    tiering = next(r for r in lifecycle["rule"] if "transition" in r)
    assert tiering["transition"][0]["storage_class"] == "INTELLIGENT_TIERING"
    sse = _one(
        prod_translation, "aws_s3_bucket_server_side_encryption_configuration", "_registry_sse"
    )
    rule = sse["values"]["rule"][0]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    group = _one(prod_translation, "aws_elasticache_parameter_group", "")["values"]
    assert {p["name"] for p in group["parameter"]} >= {"maxmemory-policy"}
    cache = _one(prod_translation, "aws_elasticache_replication_group", "_group")["values"]
    assert {c["log_type"] for c in cache["log_delivery_configuration"]} == {
        "slow-log",
        "engine-log",
    }


def test_every_plural_list_block_of_every_mapped_type_is_explained() -> None:
    """Walk each mapped type's SDK input types (not a plan): every list block named in the
    plural is either renamed to Terraform's singular or known to be plural in Terraform."""
    unexplained: set[str] = set()
    for token, tf_type in tfplan.TYPE_MAP.items():
        pending = [tfplan.resource_args(token)]
        seen: set[type] = set()
        while pending:
            args = pending.pop()
            if args is None or args in seen:
                continue
            seen.add(args)
            for prop in tfplan.properties(args).values():
                name = tfplan.RENAMES.get(tf_type, {}).get(prop.python_name, prop.python_name)
                plural = tfplan.TERRAFORM_PLURALS.get(tf_type, frozenset())
                looks_plural = name.endswith("s") and not name.endswith("ss")  # not "address"
                if prop.shape == "blocks" and looks_plural and name not in plural:
                    unexplained.add(f"{tf_type}.{prop.python_name}")
                assert not name.endswith("_"), f"{tf_type}.{name}"
                pending.append(prop.args)
    assert unexplained == set()


def test_python_keywords_get_terraforms_names_back() -> None:
    def program() -> None:
        import pulumi_aws as aws  # noqa: PLC0415

        aws.s3.BucketLifecycleConfiguration(
            "tmp",
            bucket="tmp-bucket",
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="tmp",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                        and_=aws.s3.BucketLifecycleConfigurationRuleFilterAndArgs(
                            prefix="tmp/", object_size_greater_than=1
                        )
                    ),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=1),
                )
            ],
        )

    translation = tfplan.translate(capture_program(program))
    rule = _planned(translation, "aws_s3_bucket_lifecycle_configuration.tmp")["values"]["rule"][0]
    assert rule["filter"][0]["and"] == [{"prefix": "tmp/", "object_size_greater_than": 1}]


def test_attributes_the_bridge_renamed_get_terraforms_names() -> None:
    def program() -> None:
        import pulumi  # noqa: PLC0415
        import pulumi_aws as aws  # noqa: PLC0415

        function = aws.lambda_.Function(
            "fn",
            name="rotate",
            role="arn:aws:iam::111111111111:role/r",
            runtime="python3.13",
            handler="handler.main",
            code=pulumi.AssetArchive({"handler.py": pulumi.StringAsset("def main(): ...")}),
        )
        aws.lambda_.Permission(
            "allow",
            function=function.name,
            action="lambda:InvokeFunction",
            principal="s3.amazonaws.com",
        )
        aws.cloudwatch.MetricAlarm(
            "freshness",
            name="feature-freshness",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            metric_name="Age",
            namespace="FeaturePlatform",
            period=60,
            statistic="Maximum",
            threshold=300,
        )

    translation = tfplan.translate(capture_program(program))
    assert _planned(translation, "aws_lambda_function.fn")["values"]["function_name"] == "rotate"
    # The function's id is its name: Terraform's conventional reference, unknown at plan time.
    assert _configured(translation, "aws_lambda_permission.allow")["expressions"][
        "function_name"
    ] == {"references": ["aws_lambda_function.fn.id", "aws_lambda_function.fn"]}
    alarm = _planned(translation, "aws_cloudwatch_metric_alarm.freshness")["values"]
    assert alarm["alarm_name"] == "feature-freshness" and "name" not in alarm


def test_whole_numbers_are_integers(prod_translation: tfplan.Translation) -> None:
    cache = _one(prod_translation, "aws_elasticache_replication_group", "_group")["values"]
    assert cache["port"] == 6379 and isinstance(cache["port"], int)
    assert isinstance(cache["snapshot_retention_limit"], int)


def test_tags_all_merges_provider_default_tags_only_where_the_type_has_tags(
    prod_translation: tfplan.Translation,
) -> None:
    vpc = _one(prod_translation, "aws_vpc", "")["values"]
    assert vpc["tags_all"]["managed-by"] == "pulumi"  # from the provider's default tags
    assert vpc["tags_all"]["Name"] == vpc["tags"]["Name"]
    pab = _one(
        prod_translation, "aws_s3_bucket_public_access_block", "_registry_public_access_block"
    )
    assert "tags_all" not in pab["values"]


# --- references -----------------------------------------------------------------------------


def test_inputs_from_other_resources_are_references_as_terraform_writes_them(
    prod_translation: tfplan.Translation,
) -> None:
    address = next(
        a for a in prod_translation.addresses if a.endswith("_registry_public_access_block")
    )
    bucket = address.split(".", 1)[1].replace("_public_access_block", "_bucket")
    # Unknown at plan time: not in values, a reference in the configuration.
    assert "bucket" not in _planned(prod_translation, address)["values"]
    assert _configured(prod_translation, address)["expressions"]["bucket"] == {
        "references": [f"aws_s3_bucket.{bucket}.id", f"aws_s3_bucket.{bucket}"]
    }
    # Inside a block and a list: null placeholders and one reference per source.
    cluster = next(a for a in prod_translation.addresses if a.endswith("_cluster_eks"))
    subnets = _planned(prod_translation, cluster)["values"]["vpc_config"][0]["subnet_ids"]
    assert subnets and all(s is None for s in subnets)
    refs = _configured(prod_translation, cluster)["expressions"]["vpc_config"][0]["subnet_ids"]
    assert {r.split(".")[0] for r in refs["references"]} == {"aws_subnet"}
    assert len(refs["references"]) == 2 * len(subnets)
    role = _configured(prod_translation, cluster)["expressions"]["role_arn"]["references"][0]
    assert role.startswith("aws_iam_role.") and role.endswith(".arn")


def test_reference_shapes_follow_terraform(prod_translation: tfplan.Translation) -> None:
    # A map with a value from another resource: one expression for the whole attribute.
    rotation = next(a for a in prod_translation.addresses if a.endswith("_online_store_rotation"))
    environment = _configured(prod_translation, rotation)["expressions"]["environment"][0]
    # Terraform lists each reference and then its resource: the group's id and the user's id.
    references = environment["variables"]["references"]
    groups = [r for r in references if r.startswith("aws_elasticache_replication_group.")]
    users = [r for r in references if r.startswith("aws_elasticache_user.")]
    assert len(groups) == 2 and groups[0].startswith(groups[1]), references
    assert len(users) == 2 and users[0].startswith(users[1]), references
    # A value the source sets itself (the VPC's CIDR) is known at plan time: kept, and referenced.
    https = next(a for a in prod_translation.addresses if a.endswith("_endpoints_https"))
    assert _planned(prod_translation, https)["values"]["cidr_ipv4"].endswith("/16")
    refs = _configured(prod_translation, https)["expressions"]["cidr_ipv4"]["references"]
    assert refs[0].startswith("aws_vpc.") and refs[0].endswith(".cidr_block")
    # A nested output (the cluster's own security group) is a reference into its block.
    templates = [a for a in prod_translation.addresses if a.startswith("aws_launch_template.")]
    nested = [
        r
        for t in templates
        for r in _configured(prod_translation, t)["expressions"]
        .get("vpc_security_group_ids", {})
        .get("references", [])
    ]
    assert any(r.endswith(".vpc_config[0].cluster_security_group_id") for r in nested), nested


def test_values_not_from_another_resource_stay_values(
    prod_translation: tfplan.Translation,
) -> None:
    pab = next(a for a in prod_translation.addresses if a.endswith("_registry_public_access_block"))
    values = _planned(prod_translation, pab)["values"]
    assert values["block_public_acls"] is True and values["restrict_public_buckets"] is True
    # A policy document embeds ARNs but is its own value: checks must read it.
    policy = _one(prod_translation, "aws_s3_bucket_policy", "_registry_policy")["values"]["policy"]
    assert json.loads(policy)["Statement"]


# --- secrets --------------------------------------------------------------------------------


def test_secret_inputs_are_marked_sensitive_and_never_written() -> None:
    plan = stack_plan("prod")
    translation = tfplan.translate(plan)
    secrets = [
        value
        for r in plan.resources
        for key, value in r.inputs.items()
        if key in r.secret_inputs and isinstance(value, str) and len(value) > 8
    ]
    assert secrets, "the plan carries the online store's default user's password as a secret"
    text = json.dumps(translation.document)
    assert not [s for s in secrets if s in text]
    user = _one(translation, "aws_elasticache_user", "_default_user")
    # Write-only, as Terraform plans it: the value is always null, only its version is set.
    assert user["values"].get("passwords_wo") is None
    assert user["values"]["passwords_wo_version"] == 1
    assert "passwords" not in user["values"]
    assert user["sensitive_values"] == {}
    # RBAC: the group carries no token at all, only its user group and the DELETE strategy.
    cache = _one(translation, "aws_elasticache_replication_group", "_group")
    assert not {"auth_token", "auth_token_wo", "auth_token_wo_version"} & set(cache["values"])
    assert cache["values"]["auth_token_update_strategy"] == "DELETE"


# --- the insecure fixture: what its translation must carry --------------------------------


def test_secret_blocks_and_maps_keep_their_shape() -> None:
    def program() -> None:
        import pulumi  # noqa: PLC0415
        import pulumi_aws as aws  # noqa: PLC0415

        aws.lambda_.Function(
            "fn",
            role="arn:aws:iam::111111111111:role/r",
            runtime="python3.13",
            handler="handler.main",
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={"TOKEN": pulumi.Output.secret("s3cr3t-token"), "MODE": "x"}
            ),
            tags=pulumi.Output.secret({"team": "s3cr3t-team"}),
        )

    translation = tfplan.translate(capture_program(program))
    function = _planned(translation, "aws_lambda_function.fn")
    assert function["values"]["environment"] == [
        {"variables": {"TOKEN": tfplan.SECRET_PLACEHOLDER, "MODE": tfplan.SECRET_PLACEHOLDER}}
    ]
    assert function["values"]["tags_all"]["team"] == tfplan.SECRET_PLACEHOLDER
    assert function["sensitive_values"] == {"environment": True, "tags": True}
    assert "s3cr3t" not in json.dumps(translation.document)


def test_insecure_fixture_translation(insecure: tuple[Plan, tfplan.Translation]) -> None:
    _, translation = insecure
    group = _planned(translation, "aws_security_group.world_admin")["values"]
    assert {(i["from_port"], tuple(i["cidr_blocks"])) for i in group["ingress"]} == {
        (22, ("0.0.0.0/0",)),
        (3389, ("0.0.0.0/0",)),
    }
    template = _planned(translation, "aws_launch_template.imds_v1")["values"]
    assert template["metadata_options"][0]["http_tokens"] == "optional"
    assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] == "false"
    pab = _configured(translation, "aws_s3_bucket_public_access_block.good_bucket_pab")
    assert pab["expressions"]["bucket"]["references"][0] == "aws_s3_bucket.good_bucket.id"


# --- Kubernetes manifests -------------------------------------------------------------------


def test_kubernetes_resources_become_manifests_with_checkov_ids() -> None:
    plan = stack_plan("prod")
    rendered = k8s.render(plan)
    kube = [r for r in plan.resources if r.type.startswith("kubernetes:") and r.custom]
    assert sorted(rendered.ids.values()) == sorted(r.urn for r in kube)
    documents = list(rendered.documents.values())
    namespaces = [d for d in documents if d["kind"] == "Namespace"]
    assert {n["metadata"]["name"] for n in namespaces} == {
        "feature-serving",
        "materialization",
        "ingestion",
        "monitoring",  # the metrics agent that remote-writes to managed Prometheus
        "recommendations",  # the feature teams of tenants/
        "search",
    }
    policy = next(d for d in documents if d["kind"] == "NetworkPolicy")
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    ns = policy["metadata"]["namespace"]
    assert f"NetworkPolicy.{ns}.{policy['metadata']['name']}" in rendered.ids
    assert "Namespace.default.feature-serving" in rendered.ids  # cluster-scoped


def test_secret_kubernetes_inputs_are_replaced() -> None:
    def program() -> None:
        import pulumi  # noqa: PLC0415
        import pulumi_kubernetes as kubernetes  # noqa: PLC0415

        kubernetes.core.v1.Secret(
            "token",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name="token", namespace="ingestion"),
            string_data={"token": pulumi.Output.secret("s3cr3t-value")},
        )

    rendered = k8s.render(capture_program(program))
    (document,) = rendered.documents.values()
    assert document["stringData"] == {"token": k8s.SECRET_PLACEHOLDER}  # keys kept
    assert "s3cr3t-value" not in json.dumps(document)
    assert rendered.ids == {"Secret.ingestion.token": next(iter(rendered.ids.values()))}
