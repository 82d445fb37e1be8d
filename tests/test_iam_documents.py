"""Least-privilege rules of the policy-document builders: each rule has a pass and a fail."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.iam_documents import (
    LeastPrivilegeError,
    PolicyDocument,
    PolicyKind,
    Statement,
    identity_policy,
    pod_identity_trust,
    service_trust,
)
from tests.conftest import run_component

BUCKET = "arn:aws:s3:::offline-store/*"
EVERYONE = {"*": ("*",)}


@pytest.mark.parametrize(
    ("kind", "statement", "reason"),
    [
        (
            PolicyKind.IDENTITY,
            Statement(sid="All", actions=("*",), resources=(BUCKET,)),
            "wildcard action",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(sid="S3All", actions=("s3:*",), resources=(BUCKET,)),
            "wildcard action",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(sid="S3Get", actions=("s3:Get*",), resources=(BUCKET,)),
            "wildcard action",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(sid="AllBuckets", actions=("s3:GetObject",), resources=("arn:aws:s3:::*",)),
            "every resource",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(
                sid="AllSecrets",
                actions=("secretsmanager:GetSecretValue",),
                resources=("arn:aws:secretsmanager:*:*:secret:*",),
            ),
            "every resource",
        ),
        (
            PolicyKind.RESOURCE,
            Statement(
                sid="AwsStar",
                actions=("s3:GetObject",),
                resources=(BUCKET,),
                principals={"AWS": ("*",)},
            ),
            r"Principal '\*'",
        ),
        (
            PolicyKind.ENDPOINT,
            Statement(
                sid="Unscoped", actions=("s3:GetObject",), resources=("*",), principals=EVERYONE
            ),
            "every resource",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(sid="Read", actions=("s3:GetObject",), resources=("*",)),
            "data actions",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(sid="Secret", actions=("secretsmanager:GetSecretValue",), resources=("*",)),
            "data actions",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(sid="Key", actions=("kms:Decrypt",), resources=("*",)),
            "data actions",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(
                sid="P",
                actions=("s3:GetObject",),
                resources=(BUCKET,),
                principals={"AWS": ("arn:aws:iam::111111111111:root",)},
            ),
            "no principal",
        ),
        (
            PolicyKind.RESOURCE,
            Statement(
                sid="Open", actions=("s3:GetObject",), resources=(BUCKET,), principals=EVERYONE
            ),
            "Principal '*'",
        ),
        (
            PolicyKind.RESOURCE,
            Statement(sid="NoWho", actions=("s3:GetObject",), resources=(BUCKET,)),
            "must name a principal",
        ),
        (PolicyKind.IDENTITY, Statement(sid="NoWhat", actions=("s3:GetObject",)), "no resources"),
        (
            PolicyKind.IDENTITY,
            Statement(sid="Bad-Sid", actions=("s3:GetObject",), resources=(BUCKET,)),
            "alphanumeric",
        ),
        (
            PolicyKind.IDENTITY,
            Statement(sid="Empty", actions=(), resources=(BUCKET,)),
            "no actions",
        ),
    ],
)
def test_over_broad_statements_are_refused(
    kind: PolicyKind, statement: Statement, reason: str
) -> None:
    with pytest.raises(LeastPrivilegeError, match=reason):
        PolicyDocument(kind, (statement,))


@pytest.mark.parametrize(
    ("kind", "statement"),
    [
        (
            PolicyKind.IDENTITY,
            Statement(sid="Read", actions=("s3:GetObject",), resources=(BUCKET,)),
        ),
        # Control-plane reads on "*" are not data actions.
        (
            PolicyKind.IDENTITY,
            Statement(sid="Describe", actions=("ec2:DescribeSubnets",), resources=("*",)),
        ),
        # In a key policy "*" means "this key".
        (
            PolicyKind.KEY,
            Statement(
                sid="Use",
                actions=("kms:Decrypt",),
                resources=("*",),
                principals={"AWS": ("arn:aws:iam::111111111111:root",)},
            ),
        ),
        # Denying everyone is how TLS-only bucket policies work.
        (
            PolicyKind.RESOURCE,
            Statement(
                sid="DenyHttp",
                effect="Deny",
                actions=("s3:*",),
                resources=(BUCKET,),
                principals=EVERYONE,
            ),
        ),
        # One bucket's objects is a scope, not "every resource".
        (
            PolicyKind.IDENTITY,
            Statement(sid="Objects", actions=("s3:GetObject",), resources=(BUCKET,)),
        ),
        # Endpoint policies filter; limited to the account's own resources they may say "*".
        (
            PolicyKind.ENDPOINT,
            Statement(
                sid="Own",
                actions=("s3:GetObject",),
                resources=("*",),
                principals=EVERYONE,
                conditions={"StringEquals": {"aws:ResourceAccount": "111111111111"}},
            ),
        ),
    ],
)
def test_scoped_statements_are_accepted(kind: PolicyKind, statement: Statement) -> None:
    assert PolicyDocument(kind, (statement,)).to_dict()["Statement"][0]["Sid"] == statement.sid


def test_duplicate_sids_are_refused() -> None:
    read = Statement(sid="Read", actions=("s3:GetObject",), resources=(BUCKET,))
    with pytest.raises(LeastPrivilegeError, match="duplicate Sid"):
        identity_policy(read, read)


def test_pod_identity_trust_is_scoped_to_one_service_account() -> None:
    doc = pod_identity_trust(
        "111111111111", "eu-central-1", "feature-platform", "feature-server"
    ).to_dict()
    (statement,) = doc["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    # Only session tags Pod Identity documents: a missing key would refuse every pod.
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/kubernetes-namespace": "feature-platform",
            "aws:RequestTag/kubernetes-service-account": "feature-server",
        },
        "ArnLike": {
            "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-central-1:111111111111:cluster/*"
        },
    }


def test_pod_identity_trust_pins_the_cluster_once_known() -> None:
    def program() -> None:
        doc = pod_identity_trust("111111111111", "eu-central-1", "ns", "sa", cluster_name="fp-dev")
        pulumi.export("trust", doc.to_json())

    trust = json.loads(run_component(program).outputs["trust"])
    condition = trust["Statement"][0]["Condition"]["ArnLike"]
    assert condition == {
        "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-central-1:111111111111:cluster/fp-dev"
    }


def test_service_trust_guards_against_confused_deputies() -> None:
    doc = service_trust("vpc-flow-logs.amazonaws.com", "111111111111", source_arn="arn:x").to_dict()
    condition = doc["Statement"][0]["Condition"]
    assert condition == {
        "StringEquals": {"aws:SourceAccount": "111111111111"},
        "ArnLike": {"aws:SourceArn": "arn:x"},
    }
