"""Rules over every key of a stack's config, whatever its namespace.

The engine hands the program every key of the stack file, not only ``feature-platform:*``.
The models validate the project's namespace; this module judges the rest, because a key the
program never reads is silently ignored: a misspelt namespace drops a setting, ``aws:region``
does nothing once default providers are disabled, and a credential in a stack file ends up in
git. Each rule returns ``(key, what to do)`` pairs for :class:`~components.config.ConfigError`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterator, Mapping
from typing import get_args

from pydantic import BaseModel, SecretStr

from components.config.models import StackConfig

NAMESPACE = "feature-platform"
"""The project's namespace: the name in ``Pulumi.yaml``."""

ENGINE_NAMESPACE = "pulumi"
DISABLE_DEFAULT_PROVIDERS = f"{ENGINE_NAMESPACE}:disable-default-providers"
ENGINE_KEYS = (DISABLE_DEFAULT_PROVIDERS,)
"""The engine settings this project uses; any other ``pulumi:*`` key is refused."""

EXPLICIT_PROVIDERS = ("aws", "kubernetes")
"""Packages the program builds explicit providers for (``components/provider.py``, the
cluster's Kubernetes provider): their default providers must stay disabled."""

PROVIDER_KEYS: dict[str, str] = {
    "aws:region": f"{NAMESPACE}:aws.region",
    "aws:allowedAccountIds": f"{NAMESPACE}:aws.accountId",
    "aws:assumeRole": f"{NAMESPACE}:aws.assumeRoleArn",
    "aws:assumeRoles": f"{NAMESPACE}:aws.assumeRoleArn",
    "aws:defaultTags": f"{NAMESPACE}:tags",
}
"""Provider settings that ``components/provider.py`` takes from the project's config instead."""

CREDENTIAL_KEYS = ("aws:accessKey", "aws:secretKey", "aws:token")

ENVIRONMENT_CREDENTIALS = (
    "supply credentials from the environment (AWS_PROFILE, SSO or the CI role); the provider "
    f"then assumes {NAMESPACE}:aws.assumeRoleArn"
)

Problems = list[tuple[str, str]]


def check_keys(config: Mapping[str, str], *, secret_keys: Collection[str] = ()) -> Problems:
    """Every problem with the stack's keys outside what the models validate.

    ``config`` is the flat map the engine passes (``namespace:key`` to string, structured
    values JSON-encoded); ``secret_keys`` the keys whose value was ``secure:``.
    """
    problems: Problems = []
    for key in sorted(config):
        namespace = key.partition(":")[0]
        if namespace == NAMESPACE:
            if key in secret_keys and key not in secret_settings():
                problems.append(
                    (
                        key,
                        "is not a secret setting; remove `secure:` and write the value in plain "
                        f"text (secret settings: {', '.join(secret_settings()) or 'none'})",
                    )
                )
        elif namespace in EXPLICIT_PROVIDERS:
            problems.append((key, _provider_key(key)))
        elif key not in ENGINE_KEYS:
            problems.append((key, _unknown_key(key)))
    problems.extend(_default_providers(config.get(DISABLE_DEFAULT_PROVIDERS)))
    return problems


def _provider_key(key: str) -> str:
    if key in CREDENTIAL_KEYS:
        return (
            "credentials never belong in a stack file; remove the key (and rotate the "
            f"credential if it was committed) and {ENVIRONMENT_CREDENTIALS}"
        )
    if key in PROVIDER_KEYS:
        return (
            f"has no effect: default providers are disabled and the providers are explicit; "
            f"set {PROVIDER_KEYS[key]} instead"
        )
    namespace = key.partition(":")[0]
    if namespace == "kubernetes":
        return (
            "has no effect: the Kubernetes provider is explicit, built from the EKS cluster this "
            "stack creates; remove the key"
        )
    hint = ""
    if key == "aws:profile":
        hint = "; to choose credentials, set AWS_PROFILE in the environment"
    return (
        "has no effect: default providers are disabled and the AWS provider is explicit, "
        f"configured from {NAMESPACE}:aws (components/provider.py); remove the key{hint}"
    )


def _unknown_key(key: str) -> str:
    namespace, _, name = key.partition(":")
    close = difflib.get_close_matches(key, [*_project_keys(), *ENGINE_KEYS], n=1, cutoff=0.8)
    if not close and difflib.get_close_matches(namespace, [NAMESPACE], n=1):
        close = [f"{NAMESPACE}:{name}"]  # the namespace alone is misspelt
    suggestion = f"; did you mean {close[0]}?" if close else ""
    if namespace == ENGINE_NAMESPACE:
        what = f"not an engine setting this project uses (allowed: {', '.join(ENGINE_KEYS)})"
    else:
        what = (
            f"unknown namespace {namespace!r}: neither the program nor its providers read it, "
            "so the setting would be ignored"
        )
    return what + suggestion


def _default_providers(raw: str | None) -> Problems:
    required = ", ".join(EXPLICIT_PROVIDERS)
    fix = (
        f"every stack file sets `{DISABLE_DEFAULT_PROVIDERS}: [{required}]` so no resource can "
        "fall back to an untagged provider in whatever account the credentials reach"
    )
    if raw is None:
        return [(DISABLE_DEFAULT_PROVIDERS, f"is missing; {fix}")]
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        value = raw
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return [(DISABLE_DEFAULT_PROVIDERS, f"{value!r} is not a list of packages; {fix}")]
    missing = [p for p in EXPLICIT_PROVIDERS if p not in value and "*" not in value]
    if missing:
        return [
            (
                DISABLE_DEFAULT_PROVIDERS,
                f"{value!r} leaves the default provider of {', '.join(missing)} enabled; {fix} "
                "(or ['*'])",
            )
        ]
    return []


def _project_keys() -> list[str]:
    return [f"{NAMESPACE}:{f.alias or n}" for n, f in StackConfig.model_fields.items()]


def secret_settings() -> list[str]:
    """Top-level keys that may hold a ``secure:`` value: those with a ``SecretStr`` field."""
    return sorted(
        f"{NAMESPACE}:{field.alias or name}"
        for name, field in StackConfig.model_fields.items()
        if any(_is_secret(t) for t in _types(field.annotation))
    )


def _types(annotation: object) -> Iterator[object]:
    yield annotation
    for arg in get_args(annotation):
        yield from _types(arg)


def _is_secret(annotation: object) -> bool:
    if annotation is SecretStr:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(
            _is_secret(t)
            for field in annotation.model_fields.values()
            for t in _types(field.annotation)
        )
    return False
