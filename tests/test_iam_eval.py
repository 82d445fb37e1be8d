"""Offline IAM evaluation: each case asserts the decision principalmapper reaches for synthetic
policies (not the platform's), run from its own environment as ``make iam-eval`` builds it.

The refusals (StringNotLike, condition variables), resource-policy selection and the missing
environment are tested without the evaluator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from blueprint.iam_eval import client
from blueprint.iam_eval.client import (
    Decision,
    IamEvalError,
    Principal,
    Request,
    ResourcePolicy,
    UnsupportedPolicyError,
    evaluate,
)
from blueprint.iam_eval.environment import IamEvalEnvironment, IamEvalUnavailableError
from blueprint.iam_eval.runner import BOUNDARY_LIMITS_ROLE, request_context, select_resource_policy

ACCOUNT = "111111111111"
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/tenant-teamA"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/tenant-teamB"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BUCKET = "arn:aws:s3:::offline-store"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CLUSTER = f"arn:aws:kafka:eu-west-1:{ACCOUNT}:cluster/fp/abc-1"
TOPICS = f"arn:aws:kafka:eu-west-1:{ACCOUNT}:topic/fp/abc-1"
GROUPS = f"arn:aws:kafka:eu-west-1:{ACCOUNT}:group/fp/abc-1"
SECRETS = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:fp"
SECRET_B = f"{SECRETS}/teamB/valkey-AbCdEf"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: str | list[str], resources: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


TENANT_A = policy(
    allow(
        "s3:ListBucket",
        BUCKET,
        Condition={"StringLike": {"s3:prefix": ["teamA/", "teamA/*"]}},
    ),
    allow(["s3:GetObject", "s3:PutObject"], f"{BUCKET}/teamA/*"),
    allow(["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], CLUSTER),
    allow(
        ["kafka-cluster:*Topic*", "kafka-cluster:ReadData", "kafka-cluster:WriteData"],
        f"{TOPICS}/teamA.*",
    ),
    allow(["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"], f"{GROUPS}/teamA.*"),
    allow("secretsmanager:GetSecretValue", f"{SECRETS}/teamA/*"),
    allow("kms:Decrypt", KEY),
)
EVERYTHING = policy(allow("*", "*"))
BUCKET_DENIES_OTHERS_B = policy(
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": f"{BUCKET}/teamB/*",
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": ROLE_B}},
    }
)
SECRET_ONLY_FOR_TAG_B = policy(
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalTag/tenant": "teamB"}},
    }
)


def key_policy(principal: str) -> ResourcePolicy:
    return ResourcePolicy(
        ACCOUNT,
        policy(
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "kms:*", "Resource": "*"}
        ),
    )


def decide(
    principal: Principal,
    request: Request,
    resource_policies: dict[str, ResourcePolicy] | None = None,
) -> Decision:
    [decision] = evaluate(principal, resource_policies or {}, [request])
    return decision


@pytest.fixture(scope="module")
def tenant_a() -> Principal:
    return Principal(ROLE_A, [TENANT_A], tags={"tenant": "teamA"})


@pytest.mark.iam_eval
@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [("teamA/x", True), ("teamA/", True), ("teamB/", False), ("teamA", False), (None, False)],
)
def test_list_bucket_is_confined_to_the_tenant_prefix(
    tenant_a: Principal, prefix: str | None, allowed: bool
) -> None:
    context = {} if prefix is None else {"s3:prefix": prefix}
    assert decide(tenant_a, Request("s3:ListBucket", BUCKET, context)).allowed is allowed


@pytest.mark.iam_eval
@pytest.mark.parametrize(
    ("action", "key", "allowed"),
    [
        ("s3:GetObject", "teamA/f.parquet", True),
        ("s3:PutObject", "teamA/f.parquet", True),
        ("s3:GetObject", "teamB/f.parquet", False),
        ("s3:PutObject", "teamB/f.parquet", False),
        ("s3:PutObject", "teamAB/f", False),
        ("s3:DeleteObject", "teamA/f.parquet", False),
    ],
)
def test_objects_are_confined_to_the_tenant_prefix(
    tenant_a: Principal, action: str, key: str, allowed: bool
) -> None:
    assert decide(tenant_a, Request(action, f"{BUCKET}/{key}")).allowed is allowed


@pytest.mark.iam_eval
def test_a_bucket_policy_deny_overrides_an_identity_allow() -> None:
    wide = Principal(ROLE_A, [EVERYTHING])
    bucket = {BUCKET: ResourcePolicy(ACCOUNT, BUCKET_DENIES_OTHERS_B)}
    denied = decide(wide, Request("s3:GetObject", f"{BUCKET}/teamB/x"), bucket)
    assert denied == Decision(False, "Explicit Deny: Resource Policy")
    # The same bucket policy leaves other prefixes, and teamB itself, alone.
    assert decide(wide, Request("s3:GetObject", f"{BUCKET}/teamA/x"), bucket).allowed
    owner = Principal(ROLE_B, [EVERYTHING])
    assert decide(owner, Request("s3:GetObject", f"{BUCKET}/teamB/x"), bucket).allowed


@pytest.mark.iam_eval
def test_a_permissions_boundary_caps_an_identity_allow(tenant_a: Principal) -> None:
    own_secret = Request("secretsmanager:GetSecretValue", f"{SECRETS}/teamA/valkey-AbCdEf")
    assert decide(tenant_a, own_secret).allowed
    capped = Principal(ROLE_A, [TENANT_A], boundary=policy(allow("s3:*", "*")))
    assert decide(capped, own_secret) == Decision(False, "Implicit Deny: Permission Boundary")


@pytest.mark.iam_eval
def test_a_boundary_also_caps_a_resource_policy_naming_the_role() -> None:
    # principalmapper alone would allow here (it stops at a same-account resource policy that
    # names the principal); the runner applies the role's boundary as AWS does.
    no_identity = Principal(ROLE_A, [policy(allow("sqs:ListQueues", "*"))])
    grants_role = {
        BUCKET: ResourcePolicy(
            ACCOUNT,
            policy(allow("s3:GetObject", f"{BUCKET}/shared/*", Principal={"AWS": ROLE_A})),
        )
    }
    read = Request("s3:GetObject", f"{BUCKET}/shared/x")
    assert decide(no_identity, read, grants_role).allowed  # same account: the bucket grants
    bounded = Principal(no_identity.arn, no_identity.identity_policies, policy(allow("sqs:*", "*")))
    decision = decide(bounded, read, grants_role)
    assert not decision.allowed
    assert decision.reason == BOUNDARY_LIMITS_ROLE


@pytest.mark.iam_eval
def test_a_kms_key_policy_must_allow_directly_or_by_delegating(tenant_a: Principal) -> None:
    decrypt = Request("kms:Decrypt", KEY)
    # Names another role only: the identity Allow is not enough for KMS.
    assert decide(tenant_a, decrypt, {KEY: key_policy(ROLE_B)}) == Decision(
        False, "IAM/KMS Denial: RP must authorize even with same account"
    )
    # Delegates to the account: the identity policy decides.
    assert decide(tenant_a, decrypt, {KEY: key_policy(ROOT)}).allowed
    no_kms = Principal(ROLE_A, [policy(allow("s3:GetObject", "*"))])
    assert not decide(no_kms, decrypt, {KEY: key_policy(ROOT)}).allowed
    # Names the role: the key policy alone grants.
    assert decide(no_kms, decrypt, {KEY: key_policy(ROLE_A)}).allowed


@pytest.mark.iam_eval
def test_a_kms_request_without_its_key_policy_is_refused(tenant_a: Principal) -> None:
    with pytest.raises(IamEvalError, match="no key policy given"):
        decide(tenant_a, Request("kms:Decrypt", KEY))


@pytest.mark.iam_eval
@pytest.mark.parametrize(
    ("action", "resource", "allowed"),
    [
        ("kafka-cluster:ReadData", f"{TOPICS}/teamA.events", True),
        ("kafka-cluster:CreateTopic", f"{TOPICS}/teamA.events", True),
        ("kafka-cluster:ReadData", f"{TOPICS}/teamB.events", False),
        ("kafka-cluster:WriteData", f"{TOPICS}/teamAB.events", False),
        ("kafka-cluster:AlterGroup", f"{GROUPS}/teamA.consumer", True),
        ("kafka-cluster:AlterGroup", f"{GROUPS}/teamB.consumer", False),
        ("kafka-cluster:AlterCluster", CLUSTER, False),
    ],
)
def test_kafka_topics_and_groups_are_confined_by_prefix(
    tenant_a: Principal, action: str, resource: str, allowed: bool
) -> None:
    assert decide(tenant_a, Request(action, resource)).allowed is allowed


@pytest.mark.iam_eval
def test_a_secret_policy_denies_on_the_principal_tag() -> None:
    secret = {f"{SECRETS}/teamB/*": ResourcePolicy(ACCOUNT, SECRET_ONLY_FOR_TAG_B)}
    read = Request("secretsmanager:GetSecretValue", SECRET_B)
    wide_a = Principal(ROLE_A, [EVERYTHING], tags={"tenant": "teamA"})
    assert decide(wide_a, read, secret) == Decision(False, "Explicit Deny: Resource Policy")
    untagged = Principal(ROLE_A, [EVERYTHING])
    assert not decide(untagged, read, secret).allowed  # StringNotEquals on an absent tag
    wide_b = Principal(ROLE_B, [EVERYTHING], tags={"tenant": "teamB"})
    assert decide(wide_b, read, secret).allowed
    # The caller's context wins over the principal's tags (a session tagged otherwise).
    retagged = Request(read.action, read.resource, {"aws:PrincipalTag/tenant": "teamB"})
    assert decide(wide_a, retagged, secret).allowed


@pytest.mark.iam_eval
def test_negative_control_a_widened_identity_policy_reaches_the_other_tenant() -> None:
    """The harness can fail: one over-broad statement and teamB's data is allowed."""
    widened = policy(*TENANT_A["Statement"], allow("s3:GetObject", f"{BUCKET}/*"))
    leaky = Principal(ROLE_A, [widened], tags={"tenant": "teamA"})
    assert decide(leaky, Request("s3:GetObject", f"{BUCKET}/teamB/f.parquet")) == Decision(
        True, "identity policy allows"
    )


@pytest.mark.iam_eval
def test_requests_are_decided_in_order(tenant_a: Principal) -> None:
    decisions = evaluate(
        tenant_a,
        {},
        [
            Request("s3:GetObject", f"{BUCKET}/teamB/x"),
            Request("s3:GetObject", f"{BUCKET}/teamA/x"),
            Request("s3:ListBucket", BUCKET),
        ],
    )
    assert [d.allowed for d in decisions] == [False, True, False]


@pytest.mark.iam_eval
def test_principalmapper_still_has_the_bugs_the_client_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Canaries: if a new principalmapper fixes them, the refusals can go (ADR 0024)."""
    monkeypatch.setattr(client, "refuse_unsupported", lambda _documents: None)
    wide = Principal(ROLE_A, [EVERYTHING])
    not_like = {
        BUCKET: ResourcePolicy(
            ACCOUNT,
            policy(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:ListBucket",
                    "Resource": BUCKET,
                    "Condition": {"StringNotLike": {"s3:prefix": "teamA/*"}},
                }
            ),
        )
    }
    # AWS: the key is absent, StringNotLike matches, the Deny applies.
    assert decide(wide, Request("s3:ListBucket", BUCKET), not_like).allowed
    variable = Principal(
        ROLE_A,
        [
            policy(
                allow(
                    "s3:ListBucket",
                    BUCKET,
                    Condition={"StringLike": {"s3:prefix": "${aws:PrincipalTag/tenant}/*"}},
                )
            )
        ],
        tags={"tenant": "teamA"},
    )
    # AWS: the variable becomes teamA and the prefix matches.
    assert not decide(variable, Request("s3:ListBucket", BUCKET, {"s3:prefix": "teamA/x"})).allowed


@pytest.mark.iam_eval
def test_resource_arns_match_case_insensitively(tenant_a: Principal) -> None:
    """A known leniency, documented in ADR 0024: S3 keys are case-sensitive in AWS."""
    assert decide(tenant_a, Request("s3:GetObject", f"{BUCKET}/TEAMA/x")).allowed


# Without the evaluator: refusals, selection, context, a missing environment.

STRING_NOT_LIKE = [
    "StringNotLike",
    "ForAllValues:StringNotLike",
    "ForAnyValue:StringNotLike",
    "StringNotLikeIfExists",
]


def _refusing_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*_args: object, **_kwargs: object) -> Path:
        raise AssertionError("the evaluator must not run for a refused policy")

    monkeypatch.setattr(IamEvalEnvironment, "ensure", unreachable)


@pytest.mark.parametrize("operator", STRING_NOT_LIKE)
@pytest.mark.parametrize("where", ["identity", "boundary", "resource"])
def test_string_not_like_is_refused_before_evaluating(
    monkeypatch: pytest.MonkeyPatch, operator: str, where: str
) -> None:
    _refusing_environment(monkeypatch)
    statement = allow("s3:ListBucket", BUCKET, Condition={operator: {"s3:prefix": "teamA/*"}})
    statement["Sid"] = "NotLike"
    doc = policy(statement)
    principal = Principal(
        ROLE_A, [doc] if where == "identity" else [], doc if where == "boundary" else None
    )
    policies = {BUCKET: ResourcePolicy(ACCOUNT, doc)} if where == "resource" else {}
    with pytest.raises(
        UnsupportedPolicyError, match=rf"statement NotLike: {operator} is not evaluated"
    ):
        evaluate(principal, policies, [Request("s3:ListBucket", BUCKET)])


def test_a_policy_variable_in_a_condition_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _refusing_environment(monkeypatch)
    statement = allow(
        "s3:ListBucket",
        BUCKET,
        Condition={"StringLike": {"s3:prefix": "${aws:PrincipalTag/tenant}/*"}},
    )
    with pytest.raises(
        UnsupportedPolicyError, match=r"statement #0: a policy variable in a StringLike"
    ):
        evaluate(Principal(ROLE_A, [policy(statement)]), {}, [Request("s3:ListBucket", BUCKET)])


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-teamA/session",
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        "arn:aws:iam::123:role/short-account",
    ],
)
def test_a_principal_is_a_role_arn(arn: str) -> None:
    with pytest.raises(ValueError, match="is not an IAM role ARN"):
        Principal(arn, [])


POLICIES = {
    BUCKET: {"owner_account": ACCOUNT, "policy": {}},
    KEY: {"owner_account": ACCOUNT, "policy": {}},
    f"{SECRETS}/teamB/*": {"owner_account": ACCOUNT, "policy": {}},
}


@pytest.mark.parametrize(
    ("resource", "selected"),
    [
        (BUCKET, BUCKET),
        (f"{BUCKET}/teamA/x", BUCKET),
        ("arn:aws:s3:::offline-store-logs/x", None),  # a bucket's ARN is no string prefix
        (KEY, KEY),
        (f"{KEY}0", None),
        (SECRET_B, f"{SECRETS}/teamB/*"),
        (f"{SECRETS}/teamA/valkey-AbCdEf", None),
        (f"{TOPICS}/teamA.events", None),
    ],
)
def test_resource_policy_selection(resource: str, selected: str | None) -> None:
    found = select_resource_policy(resource, POLICIES)
    assert (found[0] if found else None) == selected


def test_two_matching_resource_policies_are_an_error() -> None:
    both = {**POLICIES, f"{BUCKET}/teamA/*": {"owner_account": ACCOUNT, "policy": {}}}
    with pytest.raises(ValueError, match="matches several resource policies"):
        select_resource_policy(f"{BUCKET}/teamA/x", both)


def test_principal_tags_enter_the_context_and_the_caller_wins() -> None:
    assert request_context({"tenant": "teamA", "team": "x"}, {"AWS:principaltag/TENANT": "b"}) == {
        "aws:PrincipalTag/team": "x",
        "AWS:principaltag/TENANT": "b",
    }


def test_a_missing_environment_without_its_lock_names_make_iam_eval(tmp_path: Path) -> None:
    with pytest.raises(
        IamEvalUnavailableError, match=r"requirements\.lock is missing.*`make iam-eval`"
    ):
        evaluate(Principal(ROLE_A, []), {}, [], project_dir=tmp_path)


def test_an_environment_that_cannot_be_built_names_make_iam_eval(tmp_path: Path) -> None:
    lock = tmp_path / "policies" / "iam-eval" / "requirements.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("this is not a requirement !!\n")
    with pytest.raises(IamEvalUnavailableError, match=r"could not be built(.|\n)*`make iam-eval`"):
        evaluate(Principal(ROLE_A, []), {}, [], project_dir=tmp_path)
