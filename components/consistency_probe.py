"""The consistency probe's Kubernetes side: its service account and CronJob.

The probe runs in ``materialization`` (it reads what the materializer writes) under its own
service account, so its Pod Identity role grants exactly what it compares (the registry,
the offline store, the online store's credential) and the one metric namespace it publishes
to, and nothing of the materializer's Kafka or write access.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config.alerting import ConsistencyProbeSettings
from components.kubernetes_baseline import COMMON_LABELS, CONFIG_MAP_NAME
from components.options import child

ACTIVE_DEADLINE_SECONDS = 240
"""A run must end before the next one is due (the default schedule is every 5 minutes)."""


@dataclass(frozen=True, kw_only=True)
class ConsistencyProbeArgs:
    namespace: pulumi.Input[str]
    """The baseline's ``materialization`` namespace (its output, so it exists first)."""
    service_account: str
    environment: str
    metrics_namespace: str
    settings: ConsistencyProbeSettings


def _restricted() -> k8s.core.v1.SecurityContextArgs:
    """What the namespace's ``restricted`` Pod Security Standard requires of a container."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        read_only_root_filesystem=True,
        run_as_non_root=True,
        # A UID no host account has: a container escape lands as nobody on the node.
        run_as_user=10001,
        run_as_group=10001,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


class ConsistencyProbe(pulumi.ComponentResource):
    """ServiceAccount and CronJob of the online/offline consistency probe."""

    service_account_name: pulumi.Output[str]
    cron_job_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ConsistencyProbeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:compute:ConsistencyProbe", name, None, opts)
        labels = {**COMMON_LABELS, "app.kubernetes.io/name": args.service_account}
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.service_account, namespace=args.namespace, labels=labels
            ),
            automount_service_account_token=False,
            opts=child(self),
        )
        job = k8s.batch.v1.CronJob(
            f"{name}-cron-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.service_account, namespace=args.namespace, labels=labels
            ),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=args.settings.schedule,
                time_zone="Etc/UTC",
                # Two runs at once would publish the same window twice.
                concurrency_policy="Forbid",
                successful_jobs_history_limit=1,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=0,
                        active_deadline_seconds=ACTIVE_DEADLINE_SECONDS,
                        template=self._pod(args, account, labels),
                    )
                ),
            ),
            opts=child(self),
        )
        self.service_account_name = account.metadata.name
        self.cron_job_name = job.metadata.name
        self.register_outputs(
            {"service_account_name": self.service_account_name, "cron_job_name": self.cron_job_name}
        )

    @staticmethod
    def _pod(
        args: ConsistencyProbeArgs, account: k8s.core.v1.ServiceAccount, labels: dict[str, str]
    ) -> k8s.core.v1.PodTemplateSpecArgs:
        return k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=account.metadata.name,
                # Pod Identity needs no Kubernetes API token, and the probe calls no API.
                automount_service_account_token=False,
                restart_policy="Never",
                security_context=k8s.core.v1.PodSecurityContextArgs(
                    run_as_non_root=True,
                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                ),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="probe",
                        image=args.settings.image,
                        # A release tag may be re-pushed; every run gets what it names now.
                        image_pull_policy="Always",
                        env_from=[
                            k8s.core.v1.EnvFromSourceArgs(
                                config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(
                                    name=CONFIG_MAP_NAME
                                )
                            )
                        ],
                        env=[
                            k8s.core.v1.EnvVarArgs(name="ENVIRONMENT", value=args.environment),
                            k8s.core.v1.EnvVarArgs(
                                name="METRICS_NAMESPACE", value=args.metrics_namespace
                            ),
                            k8s.core.v1.EnvVarArgs(
                                name="PROBE_SAMPLE_SIZE", value=str(args.settings.sample_size)
                            ),
                        ],
                        security_context=_restricted(),
                        # A sample of a thousand entities fits in a few hundred MiB; explicit
                        # so the namespace quota counts the probe as what it is.
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "100m", "memory": "256Mi"},
                            limits={"cpu": "1", "memory": "512Mi"},
                        ),
                    )
                ],
            ),
        )
