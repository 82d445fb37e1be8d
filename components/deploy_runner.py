"""The in-VPC deploy runner: a CodeBuild project hosting GitHub Actions self-hosted runners.

The cluster API is private (ADR 0008), so the stack is applied from inside the VPC. CodeBuild's
managed GitHub Actions runners do that without a fleet to patch: GitHub sends a
``WORKFLOW_JOB_QUEUED`` event to the project's webhook, CodeBuild starts a container in the
private subnets that registers as a one-job runner, and a job selects it with
``runs-on: codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}``. CodeBuild
ignores the project's buildspec in this mode (it runs the runner agent instead), so there is
none, no artifacts and no batch configuration.

The runner's own role may only write its logs, manage its network interfaces and use the GitHub
connection; a job assumes the deployer through GitHub's OIDC token, exactly as on a hosted
runner, so the environment's protection rules stay the gate. The GitHub connection itself is
created and authorised once by a human (ADR 0021).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config.delivery import DeployRunnerSettings
from components.iam_documents import (
    PolicyDocument,
    Statement,
    identity_policy,
    kms_use,
    service_trust,
)
from components.log_group import encrypted_log_group
from components.network import HTTPS
from components.options import child

CODEBUILD_PRINCIPAL = "codebuild.amazonaws.com"

RUNNER_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
"""Amazon Linux 2023 x86_64 standard 5.0, a curated image CodeBuild caches on its hosts
(fast starts); ``amazonlinux2-x86_64-standard:5.0`` is the pre-November-2024 alias of the
same image. 4.0 is still Amazon Linux 2 (end of life June 2026)."""
RUNNER_ENVIRONMENT = "LINUX_CONTAINER"

WORKFLOW_JOB_QUEUED = "WORKFLOW_JOB_QUEUED"
"""The only event the webhook reacts to: a queued job that asks for this project's label.
Pushes and pull requests never start a build by themselves."""
DEPLOY_WORKFLOWS = "^(deploy|drift)$"
"""The workflows whose jobs may run here: ``deploy`` (``.github/workflows/deploy.yml``; its
reusable ``deploy-stack`` jobs belong to its run) and ``drift``, whose refresh reads the
Kubernetes layer through the private API. Each job holds its own role through OIDC."""
REVIEW_WORKFLOWS = "^review-stack$"
"""A review stack's runner serves its review workflow (``.github/workflows/review-stack.yml``)
alone: dev's deploys never land on a pull request's runner, nor the reverse."""

BUILD_TIMEOUT_MINUTES = 240
"""One job at most: a first ``up`` waits on MSK (20-40 minutes), EKS and its node groups;
CodeBuild allows 5 to 2160."""
QUEUED_TIMEOUT_MINUTES = 60
"""A job nobody can run within the hour fails instead of deploying stale code later."""
CONCURRENT_JOBS = 2
"""Deploys of one stack serialise on the state lock (and the workflow's concurrency group);
the limit caps what a burst of queued jobs can run at once as the deployer."""

ANYWHERE_IPV4 = "0.0.0.0/0"


@dataclass(frozen=True, kw_only=True)
class DeployRunnerArgs:
    project_name: str
    """CodeBuild project (and role) name, e.g. ``feature-platform-dev-deploy-runner``: the
    ``runs-on`` label names it."""
    account_id: str
    """The environment's account (trust conditions, ENI and subnet ARNs)."""
    region: str
    """Region of the project."""
    settings: DeployRunnerSettings
    """Connection, repository and compute size, validated by the config (enabled)."""
    vpc_id: pulumi.Input[str]
    """VPC of the runner's security group."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Where jobs run: NAT to GitHub, the interface endpoints, the cluster API."""
    cluster_security_group_id: pulumi.Input[str]
    """The security group on the EKS API's network interfaces (EKS's cluster SG): it admits
    443 from the runner."""
    data_key_arn: pulumi.Input[str]
    """KMS key CodeBuild encrypts build output with (none is produced; the key is the
    project's, instead of the AWS-managed S3 key)."""
    logs_key_arn: pulumi.Input[str]
    """KMS key encrypting the runner's log group."""
    log_retention_days: int
    """Retention of the runner's log group."""
    permissions_boundary_arn: str | None
    """Boundary capping the runner's role, if the organisation uses one."""
    protect: bool
    """CloudWatch deletion protection on the log group (prod)."""
    workflows: str = DEPLOY_WORKFLOWS
    """Pattern of the workflow names whose queued jobs start a build here."""


class DeployRunner(pulumi.ComponentResource):
    """CodeBuild-hosted GitHub Actions runners in the private subnets, for the deploy workflow."""

    project_name: pulumi.Output[str]
    project_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:delivery:DeployRunner", name, None, opts)
        settings = args.settings
        if not (settings.enabled and settings.connection_arn and settings.repository):
            raise ValueError(f"{name}: the runner needs an enabled, complete deployRunner config")
        self._name, self._args = name, args
        self._connection_arn: str = settings.connection_arn
        self._repository: str = settings.repository

        security_group = self._security_group()
        logs = self._log_group()
        role, role_policy = self._role(security_group, logs)
        project = self._project(security_group, logs, role, role_policy)
        self._webhook(project)

        self.project_name = project.name
        self.project_arn = project.arn
        self.role_arn = role.arn
        self.security_group_id = security_group.id
        self.log_group_name = logs.name
        self.register_outputs(
            {
                "project_name": self.project_name,
                "project_arn": self.project_arn,
                "role_arn": self.role_arn,
                "security_group_id": self.security_group_id,
                "log_group_name": self.log_group_name,
            }
        )

    @property
    def _project_arn(self) -> str:
        """Known before the project exists: the role's trust names it (no cycle)."""
        args = self._args
        return f"arn:aws:codebuild:{args.region}:{args.account_id}:project/{args.project_name}"

    # --- network ------------------------------------------------------------------------

    def _security_group(self) -> aws.ec2.SecurityGroup:
        name, args = self._name, self._args
        runner_sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="Deploy runner: HTTPS out only (AWS APIs, the EKS API, GitHub)",
            tags={"Name": args.project_name},
            opts=child(self),
        )
        # No ingress: a runner only dials out (GitHub's job queue is long polling over 443).
        # One egress rule on 443 covers the interface endpoints and the cluster API in the
        # VPC and GitHub through the NAT gateways (GitHub publishes no stable ranges); DNS
        # to the VPC resolver is never filtered by security groups.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-out-https",
            security_group_id=runner_sg.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4=ANYWHERE_IPV4,
            description="HTTPS: AWS APIs, the EKS API, GitHub through NAT",
            opts=child(self),
        )
        # The cluster API admits the runner. EKS's cluster SG sits on the API's interfaces
        # (and on the nodes, which therefore also accept 443 from the runner: a job already
        # holds cluster-admin through the deployer, so that widens nothing it could not do).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-to-cluster-api",
            security_group_id=args.cluster_security_group_id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            referenced_security_group_id=runner_sg.id,
            description="Kubernetes API from the deploy runner",
            opts=child(self),
        )
        return runner_sg

    # --- logs -----------------------------------------------------------------------------

    def _log_group(self) -> aws.cloudwatch.LogGroup:
        args = self._args
        # Created here, encrypted and with retention: CodeBuild would otherwise create
        # /aws/codebuild/<project> itself, unencrypted and never expiring.
        return encrypted_log_group(
            f"{self._name}-logs",
            self,
            log_name=f"/aws/codebuild/{args.project_name}",
            retention_days=args.log_retention_days,
            key_arn=args.logs_key_arn,
            protect=args.protect,
        )

    # --- identity -------------------------------------------------------------------------

    def _role(
        self, security_group: aws.ec2.SecurityGroup, logs: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        name, args = self._name, self._args
        role = aws.iam.Role(
            f"{name}-role",
            # Fixed: the deployer's IAM scopes and PassRole grant (bootstrap, outside this
            # program) name the runner's role by this name.
            name=args.project_name,
            description="Deploy runner (CodeBuild): logs, network interfaces, the connection",
            assume_role_policy=service_trust(
                CODEBUILD_PRINCIPAL, args.account_id, source_arn=self._project_arn
            ).to_json(),
            permissions_boundary=args.permissions_boundary_arn,
            opts=child(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=self._policy(security_group, logs).to_json(),
            opts=child(self),
        )
        return role, policy

    def _policy(
        self, security_group: aws.ec2.SecurityGroup, logs: aws.cloudwatch.LogGroup
    ) -> PolicyDocument:
        args = self._args
        ec2 = f"arn:aws:ec2:{args.region}:{args.account_id}"
        connections = self._connection_arn.split(":")[2]  # the IAM prefix follows the ARN's
        subnet_arns = pulumi.Output.from_input(args.private_subnet_ids).apply(
            lambda ids: [f"{ec2}:subnet/{subnet}" for subnet in ids]
        )
        # No sts:AssumeRole: a job gets AWS credentials the way a hosted runner's does, from
        # GitHub's OIDC token and the deployer's trust (repository and environment pinned),
        # never from the machine it runs on. A job that reached this runner without passing
        # the environment's protection gets nothing from the runner's role.
        return identity_policy(
            Statement(
                sid="WriteLogs",
                actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                resources=(pulumi.Output.concat(logs.arn, ":*"),),
            ),
            # CodeBuild registers the runner and reads the repository with tokens the
            # connection vends (CodeBuild user guide, "GitHub App connections", step 2).
            Statement(
                sid="UseConnection",
                actions=(f"{connections}:GetConnectionToken", f"{connections}:GetConnection"),
                resources=(self._connection_arn,),
            ),
            # Build output encryption with the project's key (CodeBuild "Data encryption").
            kms_use("EncryptBuildOutput", args.data_key_arn, encrypt=True),
            # VPC builds, as the CodeBuild user guide documents them ("Allow CodeBuild access
            # to AWS services required to create a VPC network interface"): Describe* has no
            # resource-level permissions; interfaces are limited to this account and region,
            # new ones to the runner's security group, and handing them to CodeBuild to the
            # runner's subnets.
            Statement(
                sid="DescribeNetwork",
                actions=(
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ),
                resources=("*",),
            ),
            Statement(
                sid="CreateInterfaces",
                actions=("ec2:CreateNetworkInterface",),
                resources=(f"{ec2}:network-interface/*", f"{ec2}:subnet/*", security_group.arn),
            ),
            Statement(
                sid="DeleteInterfaces",
                actions=("ec2:DeleteNetworkInterface",),
                resources=(f"{ec2}:network-interface/*",),
            ),
            Statement(
                sid="HandInterfacesToCodeBuild",
                actions=("ec2:CreateNetworkInterfacePermission",),
                resources=(f"{ec2}:network-interface/*",),
                conditions={
                    "StringEquals": {"ec2:AuthorizedService": CODEBUILD_PRINCIPAL},
                    "ArnEquals": {"ec2:Subnet": subnet_arns},  # type: ignore[dict-item]
                },
            ),
        )

    # --- the project ----------------------------------------------------------------------

    def _project(
        self,
        security_group: aws.ec2.SecurityGroup,
        logs: aws.cloudwatch.LogGroup,
        role: aws.iam.Role,
        role_policy: aws.iam.RolePolicy,
    ) -> aws.codebuild.Project:
        args = self._args
        return aws.codebuild.Project(
            f"{self._name}-project",
            name=args.project_name,
            description="GitHub Actions runners in the VPC: applies the stack as the deployer",
            service_role=role.arn,
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"https://github.com/{self._repository}",
                auth=aws.codebuild.ProjectSourceAuthArgs(
                    type="CODECONNECTIONS", resource=self._connection_arn
                ),
            ),
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type=RUNNER_ENVIRONMENT,
                image=RUNNER_IMAGE,
                compute_type=args.settings.compute_type.value,
                image_pull_credentials_type="CODEBUILD",
                # No Docker daemon: deploys need none, and privileged mode would hand a job
                # root on the build host.
                privileged_mode=False,
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id,
                subnets=args.private_subnet_ids,
                security_group_ids=[security_group.id],
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=logs.name
                ),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
            ),
            encryption_key=args.data_key_arn,
            build_timeout=BUILD_TIMEOUT_MINUTES,
            queued_timeout=QUEUED_TIMEOUT_MINUTES,
            concurrent_build_limit=CONCURRENT_JOBS,
            # CodeBuild checks at creation that the role may create network interfaces.
            opts=child(self, depends_on=[role_policy]),
        )

    def _webhook(self, project: aws.codebuild.Project) -> aws.codebuild.Webhook:
        # CodeBuild creates the repository webhook in GitHub through the connection; that
        # fails until the connection is AVAILABLE (authorised in the console).
        return aws.codebuild.Webhook(
            f"{self._name}-webhook",
            project_name=project.name,
            build_type="BUILD",
            filter_groups=[
                aws.codebuild.WebhookFilterGroupArgs(
                    filters=[
                        aws.codebuild.WebhookFilterGroupFilterArgs(
                            type="EVENT", pattern=WORKFLOW_JOB_QUEUED
                        ),
                        # Only the deploy workflow's jobs get a runner inside the VPC; a job
                        # of any other workflow that names the runner's label waits forever.
                        aws.codebuild.WebhookFilterGroupFilterArgs(
                            type="WORKFLOW_NAME", pattern=self._args.workflows
                        ),
                    ]
                )
            ],
            opts=child(self),
        )
