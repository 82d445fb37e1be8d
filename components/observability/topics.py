"""The page and ticket SNS topics: KMS-encrypted, TLS-only, publishable only by what alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam_documents import PolicyDocument, PolicyKind, Statement
from components.options import child
from components.slos.burn_rate import Severity


@dataclass(frozen=True)
class Publishers:
    """Who may publish to a topic, by the ARN AWS puts in ``aws:SourceArn``."""

    account_id: str
    alarm_arn_pattern: str
    """``arn:aws:cloudwatch:<region>:<account>:alarm:<prefix>-*``: the platform's alarms only."""
    event_rule_arns: Sequence[pulumi.Input[str]]
    prometheus_workspace_arn: pulumi.Input[str]


def topic_policy(topic_arn: pulumi.Input[str], publishers: Publishers) -> PolicyDocument:
    """TLS only; CloudWatch alarms, the EventBridge rules and the Prometheus alert manager of
    this environment may publish, each limited to its own source ARN and this account."""
    account = {"aws:SourceAccount": publishers.account_id}
    statements = [
        Statement(
            sid="TlsOnly",
            effect="Deny",
            principals={"*": ("*",)},
            actions=("sns:Publish",),
            resources=(topic_arn,),
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
        Statement(
            sid="CloudWatchAlarms",
            principals={"Service": ("cloudwatch.amazonaws.com",)},
            actions=("sns:Publish",),
            resources=(topic_arn,),
            conditions={
                "StringEquals": account,
                "ArnLike": {"aws:SourceArn": publishers.alarm_arn_pattern},
            },
        ),
        Statement(
            sid="PrometheusAlertManager",
            principals={"Service": ("aps.amazonaws.com",)},
            # The alert manager reads the topic's attributes before it publishes.
            actions=("sns:GetTopicAttributes", "sns:Publish"),
            resources=(topic_arn,),
            conditions={
                "StringEquals": account,
                "ArnEquals": {"aws:SourceArn": publishers.prometheus_workspace_arn},
            },
        ),
    ]
    if publishers.event_rule_arns:
        statements.append(
            Statement(
                sid="EventBridgeRules",
                principals={"Service": ("events.amazonaws.com",)},
                actions=("sns:Publish",),
                resources=(topic_arn,),
                conditions={
                    "StringEquals": account,
                    "ArnEquals": {"aws:SourceArn": tuple(publishers.event_rule_arns)},
                },
            )
        )
    return PolicyDocument(PolicyKind.RESOURCE, tuple(statements))


def alert_topics(
    name: str, parent: pulumi.Resource, *, key_arn: pulumi.Input[str]
) -> dict[Severity, aws.sns.Topic]:
    """One topic per severity, encrypted with the alerts key."""
    return {
        severity: aws.sns.Topic(
            f"{name}-{severity.value}",
            kms_master_key_id=key_arn,
            # HTTPS subscribers get messages signed with SHA256, not SHA1.
            signature_version=2,
            tags={"severity": severity.value},
            opts=child(parent),
        )
        for severity in Severity
    }


def attach_policies(
    name: str,
    parent: pulumi.Resource,
    topics: dict[Severity, aws.sns.Topic],
    publishers: dict[Severity, Publishers],
) -> None:
    for severity, topic in topics.items():
        aws.sns.TopicPolicy(
            f"{name}-{severity.value}-policy",
            arn=topic.arn,
            policy=topic_policy(topic.arn, publishers[severity]).to_json(),
            opts=child(parent),
        )
