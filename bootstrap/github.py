"""GitHub Actions' way into the account: the OIDC provider and the three CI roles.

* ``feature-platform-previewer``: pull requests of the repository (``sub`` =
  ``repo:<owner>/<repo>:pull_request``); reads configuration only, never data (no secret
  value, no object), and the state read-only with the state key to decrypt state secrets:
  code in a pull request runs with it. ``pulumi preview`` on the DIY backend takes no lock and
  writes no checkpoint, so it needs no write to the state bucket.
* ``feature-platform-drift``: the default branch's scheduled runs only (``sub`` =
  ``repo:<owner>/<repo>:ref:refs/heads/main``); what ``pulumi preview --refresh`` reads,
  the AUTH token's secret value included (the provider reads it back on refresh).
* ``feature-platform-deployer``: only jobs bound to the GitHub environment named after this
  one (``sub`` = ``repo:<owner>/<repo>:environment:<env>``), so the environment's protection
  rules (reviewers, branches) gate every ``pulumi up``.

Each trust is ``StringEquals`` on the exact subject and on ``aud`` = ``sts.amazonaws.com``:
never ``StringLike``, never a wildcard, and nothing else. No role trusts itself or the
account: the platform's stack files say ``aws.credentials: ambient``, so the provider runs
with the job's OIDC session as it is instead of assuming the role a second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bootstrap.iam import role_with_policy
from components.iam_documents import (
    PolicyDocument,
    PolicyKind,
    Statement,
    identity_policy,
)
from components.options import child

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
MAX_SESSION_SECONDS = 3600

DEPLOYER_ROLE = "feature-platform-deployer"
PREVIEWER_ROLE = "feature-platform-previewer"
DRIFT_ROLE = "feature-platform-drift"


DEFAULT_BRANCH = "main"


def pull_request_subject(repository: str) -> str:
    return f"repo:{repository}:pull_request"


def default_branch_subject(repository: str) -> str:
    """Scheduled runs (drift detection) run on the default branch: ``ref:refs/heads/main``."""
    return f"repo:{repository}:ref:refs/heads/{DEFAULT_BRANCH}"


def environment_subject(repository: str, environment: str) -> str:
    return f"repo:{repository}:environment:{environment}"


REVIEW_ENVIRONMENT = "review"
"""The GitHub environment of review-stack jobs (.github/workflows/review-stack.yml)."""


def github_trust(provider_arn: pulumi.Input[str], subject: str | tuple[str, ...]) -> PolicyDocument:
    """Web identity from GitHub for exactly ``subject`` (or any of several exact subjects),
    and nothing else: the pipelines run Pulumi with ``aws.credentials: ambient``, so no role
    re-assumes itself and none trusts the account."""
    subjects = (subject,) if isinstance(subject, str) else subject
    for one in subjects:
        if "*" in one or "?" in one:
            raise ValueError(f"{one!r}: the trust subject is exact, never a pattern")
    return PolicyDocument(
        PolicyKind.TRUST,
        (
            Statement(
                sid="GithubActions",
                actions=("sts:AssumeRoleWithWebIdentity",),
                principals={"Federated": (provider_arn,)},
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subjects,
                    }
                },
            ),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CiRolesArgs:
    account_id: str
    region: str
    environment: str
    repository: str
    """``owner/repo``, validated by the config model."""
    review_stacks: bool
    """The deployer is also trusted for jobs in the ``review`` environment (dev only)."""
    deployer_policies: Mapping[str, Sequence[Statement]]
    """What a ``pulumi up`` of the platform needs, the state included, split into managed
    policies within IAM's size limit (bootstrap/deployer_policy.py)."""
    previewer_statements: Sequence[Statement]
    """What a ``pulumi preview`` of the platform reads without data, the state included."""
    drift_statements: Sequence[Statement]
    """What a ``pulumi preview --refresh`` reads, data included, the state included."""


class CiRoles(pulumi.ComponentResource):
    """The GitHub OIDC provider and the previewer, drift and deployer roles."""

    oidc_provider_arn: pulumi.Output[str]
    deployer_role_arn: pulumi.Output[str]
    previewer_role_arn: pulumi.Output[str]
    drift_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:bootstrap:CiRoles", name, None, opts)
        # Build (and so check) every document before creating anything.
        deployer_policies = {
            group: identity_policy(*statements)
            for group, statements in args.deployer_policies.items()
        }
        previewer_policy = identity_policy(*args.previewer_statements)
        drift_policy = identity_policy(*args.drift_statements)
        # Thumbprints omitted: IAM validates GitHub's certificate against its own trusted
        # CAs and ignores them; pulumi-aws 7 makes thumbprintLists optional.
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-github-oidc",
            url=GITHUB_OIDC_URL,
            client_id_lists=[STS_AUDIENCE],
            opts=child(self),
        )
        roles = {
            role: _ci_role(
                self,
                f"{name}-{role.removeprefix('feature-platform-')}",
                role_name=role,
                description=description,
                trust=github_trust(provider.arn, subject),
                policy=policy,
            )
            for role, description, subject, policy in (
                (
                    PREVIEWER_ROLE,
                    f"Pull-request previews of {args.repository} ({args.environment})",
                    pull_request_subject(args.repository),
                    previewer_policy,
                ),
                (
                    DRIFT_ROLE,
                    f"Scheduled drift detection of {args.repository} ({args.environment})",
                    default_branch_subject(args.repository),
                    drift_policy,
                ),
                (
                    DEPLOYER_ROLE,
                    f"pulumi up of {args.repository} in the {args.environment} GitHub environment",
                    (
                        environment_subject(args.repository, args.environment),
                        *(
                            (environment_subject(args.repository, REVIEW_ENVIRONMENT),)
                            if args.review_stacks
                            else ()
                        ),
                    ),
                    None,
                ),
            )
        }
        previewer, drift, deployer = (roles[r] for r in (PREVIEWER_ROLE, DRIFT_ROLE, DEPLOYER_ROLE))
        # The deployer's permissions exceed a role's inline quota (10,240 characters): one
        # managed policy per group, each within 6,144.
        for group, document in deployer_policies.items():
            policy = aws.iam.Policy(
                f"{name}-{group}",
                name=f"feature-platform-{group}",
                description=f"pulumi up of the platform ({group})",
                policy=document.to_json(),
                opts=child(self),
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-{group}-attachment",
                role=deployer.name,
                policy_arn=policy.arn,
                opts=child(self),
            )
        self.oidc_provider_arn = provider.arn
        self.deployer_role_arn = deployer.arn
        self.previewer_role_arn = previewer.arn
        self.drift_role_arn = drift.arn
        self.register_outputs(
            {
                "drift_role_arn": self.drift_role_arn,
                "oidc_provider_arn": self.oidc_provider_arn,
                "deployer_role_arn": self.deployer_role_arn,
                "previewer_role_arn": self.previewer_role_arn,
            }
        )


def _ci_role(
    parent: pulumi.Resource,
    name: str,
    *,
    role_name: str,
    description: str,
    trust: PolicyDocument,
    policy: PolicyDocument | None,
) -> aws.iam.Role:
    return role_with_policy(
        name,
        parent,
        role_name=role_name,
        description=description,
        trust=trust,
        policy=policy,
        max_session_seconds=MAX_SESSION_SECONDS,
    )
