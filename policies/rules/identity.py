"""Identity: least-privilege IAM policies, scoped trust, boundaries and session length.

The project's own builders (``components/iam_documents.py``) refuse the same grants when a
document is built; these policies hold every stack to them, whoever wrote the JSON. The pack
does not import the project, so the list of data actions is copied here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from ._base import (
    Config,
    Props,
    Severity,
    as_list,
    cis,
    fsbp,
    plain,
    platform,
    resource_policy,
    statements,
)

# Actions that read or write data, or use key material (components/iam_documents.py).
DATA_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:CreateGrant",
        "logs:PutLogEvents",
        "logs:CreateLogStream",
        "kafka-cluster:ReadData",
        "kafka-cluster:WriteData",
        "kafka-cluster:WriteDataIdempotently",
        "elasticache:Connect",
    }
)
_DATA_ACTIONS_LOWER = {action.lower(): action for action in DATA_ACTIONS}

# Identity policies: standalone, inline on a principal, or inline blocks of an aws.iam.Role.
_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:iam/role:Role",
)

POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
WORKLOAD_TAG = "kubernetes-namespace"
"""Roles carrying this tag are workload (Pod Identity) roles."""


def _documents(props: Props) -> Iterator[tuple[str, Any]]:
    """``(where, document)`` for the identity policies a resource carries."""
    if "policy" in props:
        yield "`policy`", props.get("policy")
    for index, block in enumerate(as_list(props.get("inlinePolicies"))):
        if isinstance(block, Mapping) and block.get("policy"):
            name = block.get("name") or f"#{index}"
            yield f"`inlinePolicies` {name}", block.get("policy")


def _allows(props: Props) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, statement)`` for every Allow statement; Deny may be as broad as it likes."""
    for where, document in _documents(props):
        for index, statement in enumerate(statements(plain(document))):
            if statement.get("Effect") == "Allow":
                yield f"{where} statement {statement.get('Sid') or f'#{index}'}", statement


def _no_wildcard_actions(props: Props, config: Config) -> Iterator[str]:
    for where, statement in _allows(props):
        if "NotAction" in statement:
            yield f"{where} allows `NotAction`: everything except a list, including future actions"
        for action in as_list(statement.get("Action")):
            if isinstance(action, str) and ("*" in action or "?" in action):
                yield f"{where} allows wildcard action {action!r}; list the actions"


resource_policy(
    "iam-no-wildcard-actions",
    description="IAM identity policies allow listed actions only, never wildcards.",
    severity=Severity.HIGH,
    refs=(fsbp("IAM.21"), fsbp("IAM.1"), cis("1.16")),
    remediation=(
        "In the `policy` document of the `aws.iam.Policy`/`RolePolicy`/`UserPolicy`/"
        "`GroupPolicy` (or `inline_policies` of the `aws.iam.Role`), replace `*`, `service:*` and "
        "patterns such as `s3:Get*` with the exact actions, and `NotAction` with `Action`; build "
        "documents with `components.iam_documents`."
    ),
    types=_POLICY_TYPES,
    check=_no_wildcard_actions,
)


def _every_resource(resource: str) -> bool:
    """``*``, or an ARN whose resource part is only a wildcard (``s3:::*``, ``secret:*``)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    if parts[2] == "s3":  # "bucket/*" is one bucket's objects; "*" or "*/..." is every bucket
        return parts[5].startswith("*")
    return re.fullmatch(r"([a-z-]+[:/])?\*", parts[5]) is not None


def _data_actions(actions: list[Any]) -> list[str]:
    """The data actions a statement's actions name or match (IAM matches case-insensitively)."""
    found: set[str] = set()
    for action in actions:
        if not isinstance(action, str):
            continue
        pattern = action.lower()
        found.update(
            original
            for lower, original in _DATA_ACTIONS_LOWER.items()
            if fnmatchcase(lower, pattern)
        )
    return sorted(found)


_ALIAS_OPERATORS = ("ForAnyValue:StringEquals", "ForAnyValue:StringLike")


def _narrowed_to_aliases(statement: Mapping[str, Any], broad: list[str]) -> bool:
    """Every key of the account, narrowed to the keys behind named aliases: KMS's documented
    alias-based access control (``kms:ResourceAliases``, multi-valued, hence ``ForAnyValue``).
    Only key ARNs, and only aliases with a literal name before any wildcard."""
    if not all(r.split(":")[2:3] == ["kms"] and r.endswith(":key/*") for r in broad):
        return False
    conditions = dict(statement.get("Condition") or {})
    aliases = [
        value
        for operator in _ALIAS_OPERATORS
        if isinstance(conditions.get(operator), Mapping)
        for key, values in conditions[operator].items()
        if str(key).lower() == "kms:resourcealiases"
        for value in as_list(values)
    ]
    return bool(aliases) and all(
        isinstance(a, str) and re.fullmatch(r"alias/[^*?]+.*", a) is not None for a in aliases
    )


def _no_data_actions_on_all(props: Props, config: Config) -> Iterator[str]:
    for where, statement in _allows(props):
        data = _data_actions(as_list(statement.get("Action")))
        if not data:
            continue
        if "NotResource" in statement:
            yield f"{where} allows data actions {data} on `NotResource` (all but a few resources)"
            continue
        broad = [
            r
            for r in as_list(statement.get("Resource"))
            if isinstance(r, str) and _every_resource(r)
        ]
        if broad and not _narrowed_to_aliases(statement, broad):
            yield f"{where} allows data actions {data} on every resource {broad}"


resource_policy(
    "iam-no-data-actions-on-all-resources",
    description="IAM identity policies grant data actions only on named resources, never on all.",
    severity=Severity.HIGH,
    refs=(fsbp("KMS.1"), fsbp("KMS.2"), platform("IAM-1")),
    remediation=(
        "In the `policy` document, give statements that read or write data or use keys "
        "(`s3:GetObject`, `secretsmanager:GetSecretValue`, `kms:Decrypt`, "
        "`kafka-cluster:ReadData`, ...) the ARNs of the buckets (`arn:aws:s3:::<bucket>/*`), "
        "secrets, keys and topics they need instead of `*`; `Deny` statements may stay broad. "
        "Keys not yet created (a permissions boundary) may be `key/*` narrowed by "
        "`ForAnyValue:StringLike` on `kms:ResourceAliases` to named aliases."
    ),
    types=_POLICY_TYPES,
    check=_no_data_actions_on_all,
)


def _trusted_services(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    return [s for s in as_list(principal.get("Service")) if isinstance(s, str)]


def _trust_allows(props: Props) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, statement in enumerate(statements(plain(props.get("assumeRolePolicy")))):
        if statement.get("Effect") == "Allow":
            yield f"`assumeRolePolicy` statement {statement.get('Sid') or f'#{index}'}", statement


def _condition_keys(statement: Mapping[str, Any], operator: str | None = None) -> set[str]:
    """Condition keys (lower case: IAM compares them case-insensitively), of one operator."""
    keys: set[str] = set()
    for op, block in dict(statement.get("Condition") or {}).items():
        if (operator is None or op == operator) and isinstance(block, Mapping):
            keys.update(str(key).lower() for key in block)
    return keys


_POD_IDENTITY_TAGS = (
    "aws:RequestTag/kubernetes-namespace",
    "aws:RequestTag/kubernetes-service-account",
)
_CLUSTER_TAG = "aws:RequestTag/eks-cluster-arn"


def _pod_identity_trust_scoped(props: Props, config: Config) -> Iterator[str]:
    for where, statement in _trust_allows(props):
        if POD_IDENTITY_SERVICE not in _trusted_services(statement):
            continue
        exact = _condition_keys(statement, "StringEquals")
        for key in _POD_IDENTITY_TAGS:
            if key.lower() not in exact:
                yield (
                    f"{where} trusts {POD_IDENTITY_SERVICE} without a StringEquals condition on "
                    f"{key}: any Pod Identity association in the account can assume the role"
                )
        if config.get("requireClusterArn") and _CLUSTER_TAG.lower() not in _condition_keys(
            statement
        ):
            yield f"{where} trusts {POD_IDENTITY_SERVICE} without a condition on {_CLUSTER_TAG}"


resource_policy(
    "iam-pod-identity-trust-scoped",
    description="Pod Identity roles trust one namespace and service account of one cluster only.",
    severity=Severity.HIGH,
    refs=(platform("IAM-2"),),
    remediation=(
        "In `assume_role_policy` of the `aws.iam.Role`, condition the pods.eks.amazonaws.com "
        "statement with `StringEquals` on `aws:RequestTag/kubernetes-namespace` and "
        "`aws:RequestTag/kubernetes-service-account` (and `ArnLike` on "
        "`aws:RequestTag/eks-cluster-arn`); `components.iam_documents.pod_identity_trust` does so."
    ),
    types=("aws:iam/role:Role",),
    check=_pod_identity_trust_scoped,
    config_schema={
        "requireClusterArn": {
            "type": "boolean",
            # Namespace and service-account names repeat across clusters: a second cluster in
            # the account (a sandbox, a blue/green upgrade) must not inherit the role.
            "default": True,
            "description": "Also require a condition on aws:RequestTag/eks-cluster-arn.",
        }
    },
)

# Condition keys AWS documents as the cross-service confused-deputy guard.
_SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}


def _service_trust_confused_deputy(props: Props, config: Config) -> Iterator[str]:
    exempt = set(config.get("exemptServices") or [])
    for where, statement in _trust_allows(props):
        services = [s for s in _trusted_services(statement) if s not in exempt]
        if services and not _condition_keys(statement) & _SOURCE_KEYS:
            yield (
                f"{where} trusts {', '.join(services)} without an aws:SourceAccount or "
                "aws:SourceArn condition (confused deputy)"
            )


resource_policy(
    "iam-service-trust-confused-deputy",
    description="Roles trusting an AWS service accept it only on behalf of this account.",
    severity=Severity.MEDIUM,
    refs=(platform("IAM-3"),),
    remediation=(
        "In `assume_role_policy` of the `aws.iam.Role`, add `StringEquals` on `aws:SourceAccount` "
        "(the account id) and, where the service sends it, `ArnLike` on `aws:SourceArn`; "
        "`components.iam_documents.service_trust` does so."
    ),
    types=("aws:iam/role:Role",),
    check=_service_trust_confused_deputy,
    config_schema={
        "exemptServices": {
            "type": "array",
            "items": {"type": "string"},
            # EC2 sends no source keys for instance profiles; Pod Identity is scoped by
            # session tags (iam-pod-identity-trust-scoped).
            "default": ["ec2.amazonaws.com", POD_IDENTITY_SERVICE],
            "description": "Service principals that send no source condition keys.",
        }
    },
)


_ACCOUNT_PRINCIPAL = re.compile(r"^(?:\d{12}|arn:aws[a-z-]*:iam::(\d{12}):root)$")
_PRINCIPAL_ARN_OPERATORS = ("ArnEquals", "ArnLike", "StringEquals", "StringLike")


def _account_principals(statement: Mapping[str, Any]) -> list[str]:
    """The whole-account (or everyone) AWS principals a statement trusts."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, Mapping):
        return []
    return [
        p
        for p in as_list(principal.get("AWS"))
        if isinstance(p, str) and (p == "*" or _ACCOUNT_PRINCIPAL.match(p))
    ]


def _principal_arn_values(statement: Mapping[str, Any]) -> list[Any] | None:
    """The values an aws:PrincipalArn condition allows, or None if there is none."""
    values: list[Any] | None = None
    for operator, block in dict(statement.get("Condition") or {}).items():
        if operator.split(":")[-1] not in _PRINCIPAL_ARN_OPERATORS:
            continue
        if not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            if str(key).lower() == "aws:principalarn":
                values = [*(values or []), *as_list(value)]
    return values


def _names_principals(value: Any, account: str | None) -> bool:
    """An ARN of the trusted account's roles or users whose name (the last path segment)
    starts literally: ``.../AWSReservedSSO_KeyAdmin_*`` names a permission set's roles,
    ``.../sso.amazonaws.com/*`` would admit every one."""
    if not isinstance(value, str):
        return False
    match = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):(?:role|user)/(.+)", value)
    if match is None or (account is not None and match.group(1) != account):
        return False
    name = match.group(2).rsplit("/", 1)[-1]
    return bool(name) and name[0] not in "*?"


def _account_trust_conditioned(props: Props, config: Config) -> Iterator[str]:
    for where, statement in _trust_allows(props):
        for principal in _account_principals(statement):
            if principal == "*":
                yield f"{where} trusts every AWS principal (`*`)"
                continue
            match = _ACCOUNT_PRINCIPAL.match(principal)
            account = (match.group(1) if match else None) or principal
            account = account if account.isdigit() else None
            values = _principal_arn_values(statement)
            if not values:
                yield (
                    f"{where} trusts account principal {principal} without an aws:PrincipalArn "
                    "condition: every role and user of the account that may call "
                    "sts:AssumeRole can assume it"
                )
            elif not all(_names_principals(v, account) for v in values):
                yield (
                    f"{where} conditions aws:PrincipalArn on {values}: each value must be a "
                    "role or user ARN of the trusted account with a literal name before any "
                    "wildcard"
                )


resource_policy(
    "iam-account-trust-names-principals",
    description="A role that trusts a whole account names the roles or users it admits.",
    severity=Severity.HIGH,
    refs=(platform("IAM-7"),),
    remediation=(
        "In `assume_role_policy` of the `aws.iam.Role`, trust the exact role ARN, or keep the "
        "account principal (IAM Identity Center roles carry a random suffix) and add `ArnLike` "
        "on `aws:PrincipalArn` naming the roles, e.g. `arn:aws:iam::<account>:role/"
        "aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_KeyAdmin_*`."
    ),
    types=("aws:iam/role:Role",),
    check=_account_trust_conditioned,
)


def _is_workload_role(props: Props) -> bool:
    return WORKLOAD_TAG in dict(props.get("tags") or {})


def _permissions_boundary(props: Props, config: Config) -> Iterator[str]:
    boundary = config.get("boundaryArn") or ""
    if not boundary or not _is_workload_role(props):
        return
    actual = props.get("permissionsBoundary")
    if not actual:
        yield f"`permissionsBoundary` is not set on a workload role; required: {boundary}"
    elif actual != boundary:
        yield f"`permissionsBoundary` is {actual}; required: {boundary}"


resource_policy(
    "iam-permissions-boundary",
    description="Workload roles carry the organisation's permissions boundary where one is set.",
    severity=Severity.MEDIUM,
    refs=(platform("IAM-4"),),
    remediation=(
        "Set `permissions_boundary` on the `aws.iam.Role` tagged `kubernetes-namespace` to the "
        "policy config `boundaryArn` (the platform passes `identity.permissionsBoundaryArn` from "
        "the stack config to every workload role)."
    ),
    types=("aws:iam/role:Role",),
    check=_permissions_boundary,
    config_schema={
        "boundaryArn": {
            "type": "string",
            "default": "",
            "description": "Permissions boundary policy ARN required on workload roles "
            "(empty: none required).",
        }
    },
)

_BROAD_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess")


def _broad_managed_policy(arn: Any) -> bool:
    if not isinstance(arn, str) or ":policy/" not in arn:
        return False
    name = arn.rsplit("/", 1)[-1]
    return name.endswith("FullAccess") or name in _BROAD_MANAGED_POLICIES


def _no_full_access_managed_policies(props: Props, config: Config) -> Iterator[str]:
    for key in ("policyArn", "policyArns", "managedPolicyArns"):
        for arn in as_list(props.get(key)):
            if _broad_managed_policy(arn):
                yield f"`{key}` attaches {arn}: grants every action of a service or account"


resource_policy(
    "iam-no-full-access-managed-policies",
    description="No AdministratorAccess, PowerUserAccess or *FullAccess managed policy is used.",
    severity=Severity.HIGH,
    refs=(fsbp("IAM.1"), cis("1.16"), platform("IAM-5")),
    remediation=(
        "Remove the `aws.iam.RolePolicyAttachment` (or the ARN from `managed_policy_arns`/"
        "`policy_arns`) and grant the listed actions on named resources with an "
        "`aws.iam.RolePolicy` built by `components.iam_documents`."
    ),
    types=(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        "aws:iam/role:Role",
    ),
    check=_no_full_access_managed_policies,
)

_DEFAULT_SESSION_SECONDS = 3600  # what IAM applies when maxSessionDuration is not set


def _role_max_session(props: Props, config: Config) -> Iterator[str]:
    if not _is_workload_role(props):
        return
    maximum = int(config.get("maxSeconds", _DEFAULT_SESSION_SECONDS))
    duration = props.get("maxSessionDuration")
    seconds = int(duration) if isinstance(duration, (int, float)) else _DEFAULT_SESSION_SECONDS
    if seconds > maximum:
        yield f"`maxSessionDuration` is {seconds}s on a workload role; allowed: at most {maximum}s"


resource_policy(
    "iam-role-max-session",
    description="Workload roles issue sessions no longer than the configured maximum.",
    severity=Severity.LOW,
    refs=(platform("IAM-6"),),
    remediation=(
        "Set `max_session_duration` on the `aws.iam.Role` tagged `kubernetes-namespace` to at "
        "most the policy config `maxSeconds` (default 3600): leaked credentials expire sooner."
    ),
    types=("aws:iam/role:Role",),
    check=_role_max_session,
    config_schema={
        "maxSeconds": {
            "type": "integer",
            "minimum": 900,
            "maximum": 43200,
            "default": _DEFAULT_SESSION_SECONDS,
            "description": "Longest session (seconds) a workload role may issue.",
        }
    },
)
