"""The managed Prometheus workspace: encrypted, logging, with the rules and the alert manager.

Rules are the SLO rule groups (:mod:`components.slos.prometheus`) and the cluster's health
alerts; the alert manager routes ``severity="page"`` to the page topic and everything else to
the ticket topic, signing with SigV4 as the service.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.log_group import encrypted_log_group
from components.options import child
from components.slos.burn_rate import Severity
from components.slos.prometheus import dump_yaml

RULES_NAMESPACE = "feature-platform"
LOG_PREFIX = "/aws/vendedlogs/prometheus/"
"""Vended-logs prefix: CloudWatch Logs then authorises delivery with one account-wide
resource policy instead of one statement per log group (whose 5,120-character limit
otherwise fills up)."""


def alert_manager_yaml(region: str, topic_arns: dict[str, str]) -> str:
    """The alert manager definition: route by ``severity``, one SNS receiver per topic."""
    config = {
        "route": {
            "receiver": Severity.TICKET.value,
            "group_by": ["alertname", "slo"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [{"receiver": Severity.PAGE.value, "matchers": ['severity="page"']}],
        },
        "receivers": [
            {
                "name": severity,
                "sns_configs": [
                    {
                        "topic_arn": arn,
                        "sigv4": {"region": region},
                        "attributes": {"severity": severity},
                    }
                ],
            }
            for severity, arn in sorted(topic_arns.items())
        ],
    }
    return dump_yaml({"alertmanager_config": dump_yaml(config)})


class PrometheusWorkspace:
    """Builds the workspace and its children under ``parent``."""

    def __init__(
        self,
        name: str,
        parent: pulumi.Resource,
        *,
        alias: str,
        region: str,
        data_key_arn: pulumi.Input[str],
        logs_key_arn: pulumi.Input[str],
        log_retention_days: int,
        protect: bool,
        rules: str,
        topics: dict[Severity, aws.sns.Topic],
    ) -> None:
        logs = encrypted_log_group(
            f"{name}-logs",
            parent,
            retention_days=log_retention_days,
            key_arn=logs_key_arn,
            protect=protect,
            name_prefix=f"{LOG_PREFIX}{alias}-",
        )
        self.workspace = aws.amp.Workspace(
            name,
            alias=alias,
            kms_key_arn=data_key_arn,
            # The service requires the ":*" form of the log group's ARN.
            logging_configuration=aws.amp.WorkspaceLoggingConfigurationArgs(
                log_group_arn=logs.arn.apply(lambda arn: f"{arn}:*"),
            ),
            opts=child(parent),
        )
        self.rules = aws.amp.RuleGroupNamespace(
            f"{name}-rules",
            name=RULES_NAMESPACE,
            workspace_id=self.workspace.id,
            data=rules,
            opts=child(parent),
        )

        def definition(arns: dict[str, Any]) -> str:
            return alert_manager_yaml(region, {k: str(v) for k, v in arns.items()})

        self.alert_manager = aws.amp.AlertManagerDefinition(
            f"{name}-alert-manager",
            workspace_id=self.workspace.id,
            definition=pulumi.Output.all(
                **{severity.value: topic.arn for severity, topic in topics.items()}
            ).apply(definition),
            opts=child(parent),
        )
