"""What the program depends on but deliberately does not manage (runbook step 1).

The same definitions render the runbook's prerequisite table (``blueprint.preflight.docs``),
so the table and the checks cannot drift apart. Names and ARNs come from the stack's own
config, parsed by the project's config loader; nothing here guesses a name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from botocore.exceptions import ClientError

from blueprint.audit.model import Status, error_code
from blueprint.preflight.model import RUNBOOK, Line, PreflightContext

AUTOSCALING_SLR = "AWSServiceRoleForAutoScaling"

Verdict = tuple[bool, str]
"""(exists as the stack needs it, what was found)."""


class NotVisibleError(Exception):
    """The prerequisite cannot be judged from this account or this kind of stack file."""


@dataclass(frozen=True)
class Prerequisite:
    id: str | None
    """None for a row preflight cannot see from the account (documented only)."""
    what: str
    why: str
    named: str
    """The name the stack files use (the runbook's third column)."""
    subjects: Callable[[PreflightContext], list[str]] | None = None
    """What to look for in this stack (ARNs, names); empty when the stack needs none."""
    check: Callable[[PreflightContext, str], Verdict] | None = None
    fix: Callable[[str], str] | None = None
    permissions: tuple[str, ...] = ()

    def judge(self, ctx: PreflightContext, subject: str) -> Line:
        assert self.id and self.check and self.fix
        try:
            ok, detail = self.check(ctx, subject)
        except NotVisibleError as exc:
            return Line(self.id, subject, Status.NOT_CHECKED, str(exc), "check it by hand")
        if ok:
            return Line(self.id, subject, Status.PASS, detail)
        return Line(self.id, subject, Status.FAIL, detail, self.fix(subject))


# --- checks ------------------------------------------------------------------------------


def _role(ctx: PreflightContext, arn_or_name: str) -> Verdict:
    if arn_or_name.startswith("arn:"):
        account = arn_or_name.split(":")[4]
        if account != ctx.account:  # IAM answers only for the caller's own account
            raise NotVisibleError(
                f"the role is in account {account}; preflight reads {ctx.account}"
            )
    name = arn_or_name.rsplit("/", 1)[-1]
    try:
        role = ctx.client("iam").get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False, f"no role {name} in account {ctx.account}"
        raise
    if arn_or_name.startswith("arn:") and role["Arn"] != arn_or_name:
        return False, f"{name} exists as {role['Arn']}; the stack names {arn_or_name}"
    return True, "exists"


def _policy(ctx: PreflightContext, arn: str) -> Verdict:
    try:
        ctx.client("iam").get_policy(PolicyArn=arn)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False, f"no policy {arn}"
        raise
    return True, "exists"


def kms_key_of(provider: str, default_region: str) -> tuple[str, str]:
    """(key id or alias, region) of an ``awskms://`` secrets provider URL."""
    url = urlparse(provider)
    if url.scheme != "awskms":
        raise NotVisibleError(f"secrets provider {url.scheme or provider!r} is not awskms")
    key = f"{url.netloc}{url.path}".lstrip("/")
    return key, parse_qs(url.query).get("region", [default_region])[0]


def _state_key(ctx: PreflightContext, provider: str) -> Verdict:
    if not provider:
        return False, "the stack file names no secretsprovider"
    key, region = kms_key_of(provider, ctx.region)
    try:
        metadata = ctx.client("kms", region).describe_key(KeyId=key)["KeyMetadata"]
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return False, f"no key {key} in {region}"
        raise
    if metadata.get("AWSAccountId", ctx.account) != ctx.account:
        return False, f"{key} is a key of account {metadata['AWSAccountId']}"
    if metadata.get("KeyState") != "Enabled":
        return False, f"{key} ({metadata['KeyId']}) is {metadata.get('KeyState')}"
    return True, f"enabled, key {metadata['KeyId']} in {region}"


# --- what each stack names ---------------------------------------------------------------


def _create_role(subject: str) -> str:
    return f"create role {subject.rsplit('/', 1)[-1]}: see {RUNBOOK}"


def _create_state_key(subject: str) -> str:
    if not subject:
        return f"add a secretsprovider line to the stack file: see {RUNBOOK}, step 3"
    key, region = kms_key_of(subject, "the stack's region")
    return f"create a symmetric KMS key with {key} in {region}: see {RUNBOOK}"


PREREQUISITES: tuple[Prerequisite, ...] = (
    Prerequisite(
        id="PREREQ.DEPLOYER_ROLE",
        what="deployer role, assumable by the CI runner or an engineer's SSO role",
        why="Pulumi assumes it (`feature-platform:aws.assumeRoleArn`); the provider also pins "
        "the account with `allowed_account_ids`",
        named="`arn:aws:iam::<account>:role/feature-platform-deployer`",
        subjects=lambda ctx: [ctx.config.aws.assume_role_arn],
        check=_role,
        fix=_create_role,
        permissions=("iam:GetRole",),
    ),
    Prerequisite(
        id="PREREQ.KEY_ADMIN_ROLE",
        what="key-admin role",
        why="named in every key policy as the only principal that administers (not uses) the "
        "keys; it must exist before the keys, or `CreateKey` rejects the policy",
        named="`arn:aws:iam::<account>:role/feature-platform-key-admin`",
        subjects=lambda ctx: [ctx.config.kms.key_admin_role_arn],
        check=_role,
        fix=_create_role,
        permissions=("iam:GetRole",),
    ),
    Prerequisite(
        id="PREREQ.STATE_KEY",
        what="state-encryption KMS key with an alias",
        why="the `awskms` secrets provider encrypts every secret in the Pulumi state with it",
        named="`alias/feature-platform-<env>-pulumi-state` (the stack file's `secretsprovider`)",
        subjects=lambda ctx: [ctx.secrets_provider or ""],
        check=_state_key,
        fix=_create_state_key,
        permissions=("kms:DescribeKey",),
    ),
    Prerequisite(
        id="PREREQ.PERMISSIONS_BOUNDARY",
        what="(prod) permissions boundary policy",
        why="attached to every workload role",
        named="`arn:aws:iam::<account>:policy/feature-platform-workload-boundary` "
        "(`feature-platform:identity.permissionsBoundaryArn`)",
        subjects=lambda ctx: [a for a in [ctx.config.identity.permissions_boundary_arn] if a],
        check=_policy,
        fix=lambda arn: f"create policy {arn.rsplit('/', 1)[-1]}: see {RUNBOOK}",
        permissions=("iam:GetPolicy",),
    ),
    Prerequisite(
        id="PREREQ.CLUSTER_ADMIN_ROLE",
        what="cluster admin role(s)",
        why="mapped to cluster admin by an EKS access entry "
        "([ADR 0004](../adr/0004-eks-access-entries.md))",
        named="`feature-platform:cluster.adminRoleArns`, e.g. "
        "`arn:aws:iam::<account>:role/feature-platform-admin`",
        subjects=lambda ctx: list(ctx.config.cluster.admin_role_arns),
        check=_role,
        fix=_create_role,
        permissions=("iam:GetRole",),
    ),
    Prerequisite(
        id="PREREQ.AUTOSCALING_SLR",
        what="EC2 Auto Scaling service-linked role",
        why="the data key's policy lets it encrypt node root volumes; KMS rejects a key policy "
        "naming a role that does not exist yet. Create it once: `aws iam "
        "create-service-linked-role --aws-service-name autoscaling.amazonaws.com` (an "
        '"already exists" error is fine)',
        named=f"`{AUTOSCALING_SLR}`",
        subjects=lambda ctx: [AUTOSCALING_SLR],
        check=_role,
        fix=lambda _: (
            "aws iam create-service-linked-role --aws-service-name autoscaling.amazonaws.com"
        ),
        permissions=("iam:GetRole",),
    ),
    Prerequisite(
        id=None,
        what="a deploy runner inside the VPC, or a plan for the split apply",
        why="the cluster API is private "
        "([ADR 0008](../adr/0008-private-cluster-api-deploy-path.md))",
        named="—",
    ),
)
