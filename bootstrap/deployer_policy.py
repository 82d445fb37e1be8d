"""The deployer's and the previewer's IAM permissions, built from data.

``bootstrap/data/deployer_actions.yaml`` lists, per Pulumi type token the platform registers
(and per data source it invokes), the IAM actions the pulumi-aws provider's create, read,
update, delete and tagging of that type call, each with its source. This module turns them
into statements:

* actions are grouped per service and granted on that service's scope: the platform's names
  (``feature-platform-...``) where the service's ARNs carry names, else the account and
  region; ``"*"`` only for actions the Service Authorization Reference lists with no
  resource type (``no_resource_type`` in the data), listed one by one;
* ``iam:PassRole`` only for the platform's roles and only to the services that take them;
* the Pulumi state: read/write on the state bucket ``feature-platform-<env>-pulumi-state-*``
  and Encrypt/Decrypt/GenerateDataKey on the state key. The key is granted **by ARN**
  (``state_key_arn``): a ``kms:RequestAlias`` condition would fail on ``Decrypt``, whose
  requests name no key (the ciphertext does), and ``key/*`` with data actions is refused by
  the least-privilege checker. Bootstrap creates the key, so it has the ARN;
* Deny statements keep the deployer's bucket and key administration (which the platform
  needs on ``feature-platform-*`` buckets and every key of the account) off the state
  bucket and the state key.

What the identity policy does not grant: use of the *platform's* keys (``key_use`` in the
data: ``kms:CreateGrant``/``Decrypt``/``GenerateDataKey``/``Encrypt`` that EKS, MSK,
ElastiCache, AMP, Lambda and Secrets Manager check with the caller's permissions). Those keys
are created by the platform, so their ARNs are unknown here, and ``key/*`` with data actions
is refused by :mod:`components.iam_documents`. :func:`platform_key_use_actions` lists them for
the platform's key policies to grant the deployer role by name.

IAM limits a managed policy to 6,144 characters without whitespace: :func:`deployer_policies`
splits the deployer's statements into the fixed groups of ``policies`` in the data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.iam_documents import DATA_ACTIONS, PolicyDocument, PolicyKind, Statement

DATA_FILE = Path(__file__).parent / "data" / "deployer_actions.yaml"

STATE_BUCKET_PREFIX = "feature-platform-{environment}-pulumi-state-"
"""The state bucket's name before its random suffix (bootstrap names the bucket with it)."""

STATE_KEY_ALIAS = "alias/feature-platform-{environment}-pulumi-state"
"""The stack files' ``secretsprovider`` alias (docs/runbooks/bootstrap-environment.md)."""

MANAGED_POLICY_MAX_CHARS = 6144
"""IAM quota: a customer managed policy's size, whitespace not counted."""

CLASSES = ("create", "read", "update", "delete", "tagging")
WRITE_CLASSES = ("create", "update", "delete", "tagging")


@dataclass(frozen=True)
class TypeActions:
    """The IAM actions of one Pulumi type token (or invoke), per class."""

    token: str
    source: str
    create: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    tagging: tuple[str, ...] = ()
    key_use: tuple[str, ...] = ()

    def actions(self) -> frozenset[str]:
        return frozenset(a for c in CLASSES for a in getattr(self, c))


@dataclass(frozen=True)
class Grant:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class DeployerData:
    scopes: Mapping[str, tuple[str, ...]]
    no_resource_type: frozenset[str]
    grants: tuple[Grant, ...]
    state: Mapping[str, tuple[str, ...]]
    read_exceptions: Mapping[str, str]
    policies: Mapping[str, tuple[str, ...]]
    types: Mapping[str, TypeActions]
    invokes: Mapping[str, TypeActions]

    def entries(self) -> tuple[TypeActions, ...]:
        return (*self.types.values(), *self.invokes.values())

    def read_actions(self) -> frozenset[str]:
        return frozenset(a for e in self.entries() for a in e.read)

    def all_actions(self) -> frozenset[str]:
        return frozenset(a for e in self.entries() for a in e.actions())

    def state_actions(self) -> frozenset[str]:
        return frozenset(a for actions in self.state.values() for a in actions)


def _entry(token: str, raw: Mapping[str, Any]) -> TypeActions:
    unknown = set(raw) - {"source", "key_use", *CLASSES}
    if unknown:
        raise ValueError(f"{DATA_FILE.name}: {token}: unknown keys {sorted(unknown)}")
    return TypeActions(
        token=token,
        source=str(raw["source"]),
        **{c: tuple(raw.get(c, ())) for c in (*CLASSES, "key_use")},
    )


@cache
def load() -> DeployerData:
    raw = yaml.safe_load(DATA_FILE.read_text())
    return DeployerData(
        scopes={k: tuple(v) for k, v in raw["scopes"].items()},
        no_resource_type=frozenset(raw["no_resource_type"]),
        grants=tuple(
            Grant(
                sid=sid,
                actions=tuple(g["actions"]),
                resources=tuple(g["resources"]),
                conditions=g.get("conditions", {}),
            )
            for sid, g in raw["grants"].items()
        ),
        state={k: tuple(v) for k, v in raw["state"].items()},
        read_exceptions=dict(raw["read_exceptions"]),
        policies={k: tuple(v) for k, v in raw["policies"].items()},
        types={t: _entry(t, e) for t, e in raw["types"].items()},
        invokes={t: _entry(t, e) for t, e in raw["invokes"].items()},
    )


def service_of(action: str) -> str:
    return action.split(":", 1)[0]


def _sid(*words: str) -> str:
    return "".join(w[:1].upper() + w[1:] for part in words for w in re.split(r"[^A-Za-z0-9]", part))


REVIEW_INSTANCES = "{environment}-pr*"
"""Review stacks' instances (``dev-pr<N>``, components/config/loader.py), where enabled."""


def _fill(template: str, account_id: str, region: str, environment: str) -> str:
    return template.format(
        account=account_id, region=region, environment=environment, instance=environment
    )


def _fill_resources(
    templates: Iterable[str], account_id: str, region: str, environment: str, review: bool
) -> tuple[str, ...]:
    """Templates filled in; ``{instance}`` (a name one stack owns) is the environment's, plus
    its review stacks' (``<env>-pr*``) where the account has them."""
    instances = (environment, REVIEW_INSTANCES.format(environment=environment))
    filled: list[str] = []
    for template in templates:
        for instance in instances[: 2 if review and "{instance}" in template else 1]:
            filled.append(
                template.format(
                    account=account_id, region=region, environment=environment, instance=instance
                )
            )
    return tuple(filled)


def _fill_conditions(
    conditions: Mapping[str, Mapping[str, Any]], account_id: str, region: str, environment: str
) -> dict[str, dict[str, Any]]:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return _fill(value, account_id, region, environment)
        return tuple(fill(v) for v in value)

    return {op: {k: fill(v) for k, v in kv.items()} for op, kv in conditions.items()}


def _service_statements(
    actions: Iterable[str],
    account_id: str,
    region: str,
    environment: str,
    *,
    prefix: str = "",
    review: bool = False,
) -> list[Statement]:
    """Per service: one statement on its scope, one on ``"*"`` for actions with no resource
    type; actions under a named grant go to that grant's statement."""
    data = load()
    wanted = set(actions)
    statements: list[Statement] = []
    granted: set[str] = set()
    for grant in data.grants:
        mine = tuple(sorted(wanted & set(grant.actions)))
        granted |= set(mine)
        if mine:
            statements.append(
                Statement(
                    sid=_sid(prefix, grant.sid),
                    actions=mine,
                    resources=_fill_resources(
                        grant.resources, account_id, region, environment, review
                    ),
                    conditions=_fill_conditions(grant.conditions, account_id, region, environment),
                )
            )
    rest = wanted - granted
    for service in sorted({service_of(a) for a in rest}):
        in_service = sorted(a for a in rest if service_of(a) == service)
        scoped = tuple(a for a in in_service if a not in data.no_resource_type)
        unscoped = tuple(a for a in in_service if a in data.no_resource_type)
        if scoped:
            if not data.scopes.get(service):
                raise ValueError(f"{DATA_FILE.name}: no scope for {service} ({scoped})")
            statements.append(
                Statement(
                    sid=_sid(prefix, service),
                    actions=scoped,
                    resources=_fill_resources(
                        data.scopes[service], account_id, region, environment, review
                    ),
                )
            )
        if unscoped:
            statements.append(
                Statement(
                    sid=_sid(prefix, service, "NoResourceType"), actions=unscoped, resources=("*",)
                )
            )
    return statements


def _state_statements(
    account_id: str,
    region: str,
    environment: str,
    state_key_arn: pulumi.Input[str],
    *,
    write: bool,
    prefix: str,
) -> list[Statement]:
    state = load().state
    bucket = f"arn:aws:s3:::{STATE_BUCKET_PREFIX.format(environment=environment)}*"
    objects = state["object_read"] + (state["object_write"] if write else ())
    keys = state["key_read"] + (state["key_write"] if write else ())
    return [
        Statement(
            sid=_sid(prefix, "StateBucket"), actions=state["bucket_read"], resources=(bucket,)
        ),
        Statement(
            sid=_sid(prefix, "StateObjects"),
            actions=tuple(sorted(objects)),
            resources=(f"{bucket}/*",),
        ),
        Statement(
            sid=_sid(prefix, "StateKey"), actions=tuple(sorted(keys)), resources=(state_key_arn,)
        ),
    ]


def _protect_state(
    account_id: str, region: str, environment: str, state_key_arn: pulumi.Input[str]
) -> list[Statement]:
    """The deployer administers ``feature-platform-*`` buckets and every key of the account;
    these Denies take the state bucket and key out of that (a Deny wins over any Allow)."""
    data = load()
    writes = {a for e in data.entries() for c in WRITE_CLASSES for a in getattr(e, c)}
    writes -= data.no_resource_type | data.state_actions()
    bucket = f"arn:aws:s3:::{STATE_BUCKET_PREFIX.format(environment=environment)}*"
    alias = f"arn:aws:kms:{region}:{account_id}:{STATE_KEY_ALIAS.format(environment=environment)}"
    return [
        Statement(
            sid="ProtectStateBucket",
            effect="Deny",
            actions=tuple(sorted(a for a in writes if service_of(a) == "s3")),
            resources=(bucket,),
        ),
        Statement(
            sid="ProtectStateKey",
            effect="Deny",
            actions=tuple(sorted(a for a in writes if service_of(a) == "kms")),
            resources=(state_key_arn, alias),
        ),
    ]


def deployer_policies(
    account_id: str,
    region: str,
    environment: str,
    state_key_arn: pulumi.Input[str],
    *,
    review: bool = False,
) -> dict[str, tuple[Statement, ...]]:
    """The deployer's statements, grouped into managed policies (name -> statements).

    Each group holds the services ``policies`` assigns it; the state statements and the
    Denies that protect the state go with the data group (s3, kms). With ``review``, the
    names one stack owns (``{instance}``) also cover the account's review stacks.
    """
    data = load()
    actions = data.all_actions()
    groups: dict[str, tuple[Statement, ...]] = {}
    assigned = {s for services in data.policies.values() for s in services}
    missing = {service_of(a) for a in actions} - assigned
    if missing:
        raise ValueError(f"{DATA_FILE.name}: services in no policy group: {sorted(missing)}")
    for name, services in data.policies.items():
        mine = [a for a in actions if service_of(a) in services]
        statements = _service_statements(mine, account_id, region, environment, review=review)
        if "s3" in services:
            statements += _state_statements(
                account_id, region, environment, state_key_arn, write=True, prefix=""
            )
            statements += _protect_state(account_id, region, environment, state_key_arn)
        groups[name] = tuple(statements)
    return groups


def deployer_statements(
    account_id: str,
    region: str,
    environment: str,
    state_key_arn: pulumi.Input[str],
    *,
    review: bool = False,
) -> tuple[Statement, ...]:
    """Everything ``pulumi up`` of the platform needs, in one tuple (see
    :func:`deployer_policies` for the same split into managed policies within IAM's size)."""
    policies = deployer_policies(account_id, region, environment, state_key_arn, review=review)
    return tuple(s for statements in policies.values() for s in statements)


def previewer_statements(
    account_id: str,
    region: str,
    environment: str,
    state_key_arn: pulumi.Input[str],
    *,
    data_reads: bool = False,
    review: bool = False,
) -> tuple[Statement, ...]:
    """A preview's reads, the state read-only.

    Without ``data_reads`` (the pull-request previewer): the read actions minus those that
    read data (``DATA_ACTIONS``: the AUTH token's value, objects): code in a pull request runs
    with this role, so it may see how things are configured, never what they hold; a preview
    without ``--refresh`` needs no more. With ``data_reads`` (the drift role, trusted only
    for the default branch): everything ``pulumi preview --refresh`` reads.
    """
    reads = load().read_actions()
    if not data_reads:
        reads = frozenset(reads - DATA_ACTIONS)
    return (
        *_service_statements(reads, account_id, region, environment, review=review),
        *_state_statements(account_id, region, environment, state_key_arn, write=False, prefix=""),
    )


def platform_key_use_actions() -> tuple[str, ...]:
    """KMS actions services check on the platform's keys with the deployer's permissions;
    for the platform's key policies to grant the deployer role (not an identity policy)."""
    return tuple(sorted({a for e in load().entries() for a in e.key_use}))


def policy_size(statements: tuple[Statement, ...]) -> int:
    """Characters of the policy JSON without whitespace, as IAM counts them for its quota.

    Output values (the state key's ARN before it exists) count as a full key ARN.
    """
    placeholder = "arn:aws:kms:xx-xxxxxxxxx-1:000000000000:key/00000000-0000-0000-0000-000000000000"

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value if isinstance(value, (str, int, float, bool)) or value is None else placeholder

    document = PolicyDocument(PolicyKind.IDENTITY, statements).to_dict()
    return len(re.sub(r"\s", "", json.dumps(plain(document))))
