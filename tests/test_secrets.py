"""Secrets Manager: encrypted with the secrets key; generated values are write-only secrets."""

from __future__ import annotations

import json

from blueprint.capture import Plan
from components.secrets import EXCLUDED_CHARACTERS, SAFE_SPECIAL_CHARACTERS
from functions.online_store_rotation import handler
from tests.conftest import stack_config

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"

# ElastiCache rejects AUTH tokens containing these.
FORBIDDEN_IN_AUTH_TOKENS = set(' "/@')


def test_secrets_use_the_secrets_key_and_the_environment_recovery_window(plan: Plan) -> None:
    key = plan.named("aws:kms/key:Key", "-kms-secrets")
    window = stack_config(plan.stack).secrets.recovery_window_days
    for secret in plan.of_type(SECRET):
        assert secret.inputs["kmsKeyId"] == key.outputs["arn"]
        assert secret.inputs["recoveryWindowInDays"] == window


def test_secret_values_reach_the_engine_only_as_pulumi_secrets(plan: Plan) -> None:
    versions = plan.of_type(VERSION)
    assert versions
    for version in versions:
        # Write-only: never read back into state outputs, nor diffed.
        assert version.secret_inputs == ["secretStringWo"]
        assert "password" in json.loads(version.inputs["secretStringWo"])
        assert "secretStringWo" not in version.outputs


def test_generated_values_are_long_and_valid_as_elasticache_auth_tokens(plan: Plan) -> None:
    for version in plan.of_type(VERSION):
        token = json.loads(version.inputs["secretStringWo"])["password"]
        assert len(token) >= 32
        assert not set(token) & FORBIDDEN_IN_AUTH_TOKENS
    # Secrets Manager generates the first token and every rotated one with the same rule.
    assert set(EXCLUDED_CHARACTERS) >= FORBIDDEN_IN_AUTH_TOKENS - {" "}
    assert EXCLUDED_CHARACTERS == handler.EXCLUDED_CHARACTERS
    assert not set(SAFE_SPECIAL_CHARACTERS) & FORBIDDEN_IN_AUTH_TOKENS


def test_no_secret_value_is_exported_in_plain_text(plan: Plan) -> None:
    values = {json.loads(v.inputs["secretStringWo"])["password"] for v in plan.of_type(VERSION)}
    exported = json.dumps(plan.outputs)
    assert not any(value in exported for value in values)


def test_secrets_are_protected_in_prod_only(dev: Plan, prod: Plan) -> None:
    assert all(s.protect and s.retain_on_delete for s in prod.of_type(SECRET))
    assert not any(s.protect for s in dev.of_type(SECRET))
