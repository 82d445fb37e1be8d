"""The deployer's and previewer's policies: in step with the types the platform uses, built
only from the data, least privilege, account-scoped, within IAM's size limit."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

from blueprint.capture import RecordingMonitor, capture
from blueprint.mocks import PlatformMocks
from bootstrap.deployer_policy import (
    MANAGED_POLICY_MAX_CHARS,
    deployer_policies,
    deployer_statements,
    load,
    platform_key_use_actions,
    policy_size,
    previewer_statements,
    service_of,
)
from components.iam_documents import (
    DATA_ACTIONS,
    LeastPrivilegeError,
    PolicyDocument,
    PolicyKind,
    Statement,
)
from tests.conftest import PROJECT_DIR, STACKS, namespace_values

ACCOUNT = "111111111111"
REGION = "eu-central-1"
STATE_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-1111-2222-3333-444444444444"
READ_PREFIXES = ("Get", "Describe", "List")


class _RecordingCalls(PlatformMocks):
    """The platform mocks, also recording which data sources the program invokes."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def call(self, args: Any) -> Any:
        self.tokens.add(args.token)
        return super().call(args)


_used: dict[str, tuple[frozenset[str], frozenset[str]]] = {}


def used(project: Path, stack: str) -> tuple[frozenset[str], frozenset[str]]:
    """(AWS resource types incl. the aws provider, aws invokes) a project's stack uses."""
    key = f"{project}:{stack}"
    if key not in _used:
        mocks = _RecordingCalls()
        plan = capture(project, stack, monitor=RecordingMonitor(mocks))
        types = {r.type for r in plan.resources}
        _used[key] = (
            frozenset(t for t in types if t.startswith("aws:") or t == "pulumi:providers:aws"),
            frozenset(t for t in mocks.tokens if t.startswith("aws:")),
        )
    return _used[key]


def platform_usage() -> tuple[frozenset[str], frozenset[str]]:
    types: set[str] = set()
    invokes: set[str] = set()
    for stack in STACKS:
        t, i = used(PROJECT_DIR, stack)
        types |= t
        invokes |= i
    return frozenset(types), frozenset(invokes)


def all_deployer() -> tuple[Statement, ...]:
    return deployer_statements(ACCOUNT, REGION, "dev", STATE_KEY)


def previewer() -> tuple[Statement, ...]:
    return previewer_statements(ACCOUNT, REGION, "dev", STATE_KEY)


# --- checks, also applied to fabricated statements below ---------------------------------


def check_statements(statements: tuple[Statement, ...], account: str) -> None:
    """Raise AssertionError or LeastPrivilegeError on what these tests refuse."""
    PolicyDocument(PolicyKind.IDENTITY, statements)
    no_resource_type = load().no_resource_type
    for st in statements:
        for action in st.actions:
            assert "*" not in action, f"{st.sid}: wildcard action {action}"
        for resource in st.resources:
            if not isinstance(resource, str):
                continue  # an Output: the state key's ARN
            if resource == "*":
                if st.effect == "Allow":
                    outside = set(st.actions) - no_resource_type
                    assert not outside, f"{st.sid}: {sorted(outside)} on '*'"
                    assert not set(st.actions) & DATA_ACTIONS, f"{st.sid}: data action on '*'"
                continue
            parts = resource.split(":")
            assert parts[0] == "arn" and len(parts) >= 6, f"{st.sid}: {resource} is not an ARN"
            if parts[2] == "s3":
                continue  # bucket ARNs carry no account; checked by name below
            assert parts[4] == account, f"{st.sid}: {resource} is not in account {account}"


# --- the data is in step with the stacks -------------------------------------------------


def test_every_type_and_invoke_the_stacks_use_has_an_entry() -> None:
    types, invokes = platform_usage()
    data = load()
    assert types - set(data.types) == set(), "types with no entry in deployer_actions.yaml"
    assert invokes - set(data.invokes) == set(), "invokes with no entry in deployer_actions.yaml"


def test_every_entry_is_used_by_a_stack_or_bootstrap() -> None:
    types, invokes = platform_usage()
    data = load()
    b_types, b_invokes = used(PROJECT_DIR / "bootstrap", "dev")
    assert set(data.types) - types - b_types == set(), "stale type entries"
    assert set(data.invokes) - invokes - b_invokes == set(), "stale invoke entries"


def test_every_entry_of_the_platform_is_used_by_a_stack() -> None:
    """Without bootstrap: entries the platform stacks do not use must be bootstrap's (none
    today), so every entry is a platform type."""
    types, invokes = platform_usage()
    data = load()
    assert set(data.types) - types == set()
    assert set(data.invokes) - invokes == set()


def test_every_entry_names_its_provider_source_and_has_actions() -> None:
    for entry in load().entries():
        assert entry.source.startswith("internal/") and entry.source.endswith(".go"), entry.token
        assert entry.read, f"{entry.token}: no read actions (refresh would fail)"
        if entry.token.startswith("aws:") and entry not in load().invokes.values():
            assert entry.create, f"{entry.token}: no create actions"


def test_every_action_is_well_formed_and_its_service_has_a_scope_and_a_policy() -> None:
    data = load()
    grouped = {s for services in data.policies.values() for s in services}
    for action in data.all_actions() | data.state_actions():
        service, _, name = action.partition(":")
        assert name[:1].isupper() and "*" not in action, action
        assert service in data.scopes, action
        assert service in grouped, action


# --- the policies ------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_policies_pass_the_checks_for_each_stack(stack: str) -> None:
    aws = namespace_values(stack)["aws"]
    account, region = str(aws["accountId"]), aws["region"]
    key = f"arn:aws:kms:{region}:{account}:key/00000000-1111-2222-3333-444444444444"
    for statements in deployer_policies(account, region, stack, key).values():
        check_statements(statements, account)
    check_statements(previewer_statements(account, region, stack, key), account)


def test_every_action_in_the_policies_comes_from_the_data() -> None:
    data = load()
    allowed = data.all_actions() | data.state_actions()
    for st in (*all_deployer(), *previewer()):
        assert set(st.actions) <= allowed, f"{st.sid}: {set(st.actions) - allowed}"


def test_the_deployer_gets_every_action_of_the_data() -> None:
    granted = {a for st in all_deployer() if st.effect == "Allow" for a in st.actions}
    data = load()
    assert data.all_actions() | data.state_actions() == granted


def test_platform_key_use_is_left_to_the_key_policies() -> None:
    """kms data actions on the platform's keys would need ``key/*``: not granted here."""
    key_use = set(platform_key_use_actions()) & DATA_ACTIONS
    assert key_use
    for st in all_deployer():
        if st.effect == "Allow" and set(st.actions) & key_use:
            assert st.resources == (STATE_KEY,), st.sid


def test_pass_role_only_for_platform_roles_to_named_services() -> None:
    [st] = [s for s in all_deployer() if "iam:PassRole" in s.actions]
    assert st.actions == ("iam:PassRole",)
    assert st.resources == (
        f"arn:aws:iam::{ACCOUNT}:role/feature-platform-*-role-*",
        f"arn:aws:iam::{ACCOUNT}:role/feature-platform-dev-deploy-runner",
        f"arn:aws:iam::{ACCOUNT}:role/feature-platform/tenants/*",
    )
    services = st.conditions["StringEquals"]["iam:PassedToService"]
    assert isinstance(services, tuple)
    assert set(services) == {
        "codebuild.amazonaws.com",
        "ec2.amazonaws.com",
        "eks.amazonaws.com",
        "lambda.amazonaws.com",
        "pods.eks.amazonaws.com",
        "vpc-flow-logs.amazonaws.com",
    }


def test_iam_grants_leave_out_the_prerequisite_roles() -> None:
    patterns = [
        r
        for st in all_deployer()
        if st.effect == "Allow" and any(service_of(a) == "iam" for a in st.actions)
        for r in st.resources
        if isinstance(r, str) and ":role/" in r
    ]
    for role in (
        "feature-platform-deployer",
        "feature-platform-key-admin",
        "feature-platform-admin",
    ):
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        assert not any(fnmatch.fnmatchcase(arn, p) for p in patterns), role


def test_the_state_bucket_and_key_are_protected_from_administration() -> None:
    deny = {s.sid: s for s in all_deployer() if s.effect == "Deny"}
    assert "s3:DeleteBucket" in deny["ProtectStateBucket"].actions
    assert "s3:PutBucketPolicy" in deny["ProtectStateBucket"].actions
    assert deny["ProtectStateBucket"].resources == (
        "arn:aws:s3:::feature-platform-dev-pulumi-state-*",
    )
    assert {"kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DeleteAlias"} <= set(
        deny["ProtectStateKey"].actions
    )
    assert STATE_KEY in deny["ProtectStateKey"].resources
    # ...while the state itself stays readable and writable.
    allowed = {
        a
        for s in all_deployer()
        if s.effect == "Allow" and STATE_KEY in s.resources
        for a in s.actions
    }
    assert {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} <= allowed
    assert not set(deny["ProtectStateKey"].actions) & allowed


@pytest.mark.parametrize("stack", STACKS)
def test_every_planned_resource_is_in_the_deployers_scope(stack: str) -> None:
    """Every physical ARN the stack creates matches a resource of its service's grants."""
    from tests.conftest import stack_plan  # noqa: PLC0415

    assert_in_deployers_scope(stack_plan(stack), stack)


def test_a_review_stack_is_in_the_dev_deployers_scope() -> None:
    """A pull request's review stack (pr-<N>) is applied by dev's deployer in dev's account."""
    from tests.test_review_stack import review_plan  # noqa: PLC0415

    assert_in_deployers_scope(review_plan(), "dev", review=True)
    with pytest.raises(AssertionError, match="outside the deployer's scope"):
        assert_in_deployers_scope(review_plan(), "dev", review=False)


def assert_in_deployers_scope(plan: Any, environment: str, *, review: bool = False) -> None:
    aws = namespace_values(environment)["aws"]
    account, region = str(aws["accountId"]), aws["region"]
    key = f"arn:aws:kms:{region}:{account}:key/x"
    patterns: dict[str, list[str]] = {}
    for st in deployer_statements(account, region, environment, key, review=review):
        if st.effect != "Allow":
            continue
        for action in st.actions:
            patterns.setdefault(service_of(action), []).extend(
                r for r in st.resources if isinstance(r, str) and r != "*"
            )
    names = {"arn:aws:kafka": ("kafka", "kafka-cluster"), "arn:aws:events": ("events",)}
    checked = 0
    for resource in plan.resources:
        arn = (resource.outputs or {}).get("arn")
        if (
            not isinstance(arn, str)
            or not arn.startswith("arn:aws:")
            or not resource.type.startswith("aws:")
        ):
            continue
        if resource.type == "aws:cloudwatch/eventTarget:EventTarget":
            continue  # its "arn" is the target topic's
        service = arn.split(":")[2]
        services = names.get(":".join(arn.split(":")[:3]), (service,))
        assert any(fnmatch.fnmatchcase(arn, p) for s in services for p in patterns.get(s, [])), (
            f"{resource.type} {arn} is outside the deployer's scope"
        )
        checked += 1
    assert checked > 100


def test_the_previewer_only_reads() -> None:
    data = load()
    reads = (
        data.read_actions()
        | set(data.state["bucket_read"])
        | set(data.state["object_read"])
        | set(data.state["key_read"])
    )
    for st in previewer():
        assert st.effect == "Allow"
        for action in st.actions:
            assert action in reads, f"{st.sid}: {action} is not a read action"
            name = action.split(":", 1)[1]
            assert name.startswith(READ_PREFIXES) or action in data.read_exceptions, action
    granted = {a for st in previewer() for a in st.actions}
    writes = {
        a
        for e in data.entries()
        for c in ("create", "update", "delete", "tagging")
        for a in getattr(e, c)
    }
    assert not (granted & writes) - set(data.read_exceptions) - data.read_actions()
    assert not {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt"} & granted


def test_read_exceptions_are_read_actions() -> None:
    data = load()
    reads = data.read_actions() | set(data.state["key_read"]) | set(data.state["bucket_read"])
    assert set(data.read_exceptions) <= reads


INLINE_ROLE_POLICIES_MAX_CHARS = 10_240


@pytest.mark.parametrize("stack", STACKS)
def test_each_policy_is_within_iams_size_limit(stack: str) -> None:
    aws = namespace_values(stack)["aws"]
    account, region = str(aws["accountId"]), aws["region"]
    key = f"arn:aws:kms:{region}:{account}:key/00000000-1111-2222-3333-444444444444"
    groups = deployer_policies(account, region, stack, key)
    assert len(groups) <= 10, "IAM's default quota of managed policies per role"
    for name, statements in groups.items():
        assert policy_size(statements) <= MANAGED_POLICY_MAX_CHARS, name
    # The previewer's and drift role's policies are inline: IAM allows 10,240 characters for
    # all of a role's inline policies together (IAM quotas, "Role policy size").
    for data_reads in (False, True):
        statements = previewer_statements(account, region, stack, key, data_reads=data_reads)
        assert policy_size(statements) <= INLINE_ROLE_POLICIES_MAX_CHARS


# --- the checks refuse what they must ----------------------------------------------------


def test_a_service_wildcard_is_refused() -> None:
    bad = Statement(sid="Bad", actions=("s3:*",), resources=("arn:aws:s3:::feature-platform-*",))
    with pytest.raises(LeastPrivilegeError):
        check_statements((*all_deployer(), bad), ACCOUNT)


def test_a_resource_in_another_account_is_refused() -> None:
    bad = Statement(
        sid="Bad",
        actions=("sns:GetTopicAttributes",),
        resources=("arn:aws:sns:eu-central-1:999999999999:x",),
    )
    with pytest.raises(AssertionError, match="not in account"):
        check_statements((*all_deployer(), bad), ACCOUNT)


def test_star_for_an_action_with_a_resource_type_is_refused() -> None:
    bad = Statement(sid="Bad", actions=("iam:CreateRole",), resources=("*",))
    with pytest.raises(AssertionError, match="on '\\*'"):
        check_statements((bad,), ACCOUNT)


def test_a_data_action_on_star_is_refused() -> None:
    bad = Statement(sid="Bad", actions=("secretsmanager:GetSecretValue",), resources=("*",))
    with pytest.raises(LeastPrivilegeError):
        check_statements((bad,), ACCOUNT)


@pytest.mark.parametrize("instance", ["dev", "dev-pr42"])
def test_cache_users_and_groups_are_in_the_deployers_scope(instance: str) -> None:
    """Users and user groups are named `fp-<instance>-...` (no `feature-platform-`): the
    deployer creates, reads, changes, tags and deletes them, dev's deployer its review stacks'."""
    from components import cache_access  # noqa: PLC0415

    aws = namespace_values("dev")["aws"]
    account, region = str(aws["accountId"]), aws["region"]
    key = f"arn:aws:kms:{region}:{account}:key/x"
    statements = deployer_statements(account, region, "dev", key, review=True)

    def allowed(action: str, arn: str) -> bool:
        return any(
            st.effect == "Allow"
            and action in st.actions
            and any(fnmatch.fnmatchcase(arn, r) for r in st.resources if isinstance(r, str))
            for st in statements
        )

    users = [
        cache_access.user_arn(region, account, cache_access.default_user_id(instance)),
        cache_access.user_arn(
            region, account, cache_access.team_user_id(instance, "recommendations", "ranker")
        ),
    ]
    group_id = cache_access.user_group_id(instance, "valkey")
    group = f"arn:aws:elasticache:{region}:{account}:usergroup:{group_id}"
    for action in ("CreateUser", "DescribeUsers", "ModifyUser", "DeleteUser"):
        assert all(allowed(f"elasticache:{action}", u) for u in users), action
    for action in ("CreateUserGroup", "DescribeUserGroups", "ModifyUserGroup", "DeleteUserGroup"):
        assert allowed(f"elasticache:{action}", group), action
    for action in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"):
        assert all(allowed(f"elasticache:{action}", arn) for arn in (*users, group)), action
    # Another account's or another environment's users stay out of reach.
    assert not allowed("elasticache:ModifyUser", users[0].replace(account, "999999999999"))
    assert not allowed(
        "elasticache:ModifyUser", f"arn:aws:elasticache:{region}:{account}:user:fp-prod-default"
    )
