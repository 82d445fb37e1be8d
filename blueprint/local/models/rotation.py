"""Secrets Manager rotation with a Lambda function, driven the way Secrets Manager drives it.

Sources (AWS documentation):

* How rotation works / Rotation by Lambda function, User Guide
  https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_how.html
  https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda.html
  - one invocation per step, in order: createSecret, setSecret, testSecret, finishSecret,
    each with ``Step``, ``SecretId``, ``ClientRequestToken`` (the new version's id) and
    ``RotationToken``; the new version carries ``AWSPENDING`` until finishSecret moves
    ``AWSCURRENT`` to it (the old one becomes ``AWSPREVIOUS``).
* RotateSecret and DescribeSecret, API reference
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html
  - "If the AWSPENDING staging label is present but not attached to the same version as
    AWSCURRENT, then any later invocation of RotateSecret assumes that a previous rotation
    request is still in progress and returns an error" (InvalidRequestException; the text
    AWS returns is "A previous rotation isn't complete. That rotation will be reattempted.");
  - "When rotation is unsuccessful, the AWSPENDING staging label might be attached to an
    empty secret version";
  - "If rotation fails, Secrets Manager retries the entire rotation process multiple times"
    (NextRotationDate) -- AWS gives no number: see :data:`ROTATION_ATTEMPTS`;
  - ``RotateImmediately=false``: only testSecret runs, against a pending version that is
    removed afterwards.
* Troubleshoot rotation, User Guide
  https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot_rotation.html
  - a rotation that times out fails like any other step failure.

The function runs in-process: its module's ``lambda_handler(event, context)`` is called
with a :class:`LambdaContext` whose remaining time runs on the models' virtual clock, and
boto3 waiters inside it sleep on that clock, so a 15-second poll costs no real time but
does use up the invocation's budget. A handler that returns after its (virtual) timeout
failed, as Lambda would have stopped it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.secretsmanager.exceptions import InvalidRequestException, SecretNotFoundException
from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend
from moto.secretsmanager.responses import SecretsManagerResponse

from blueprint.local.models.base import VirtualClock, waiters_sleep_on

ROTATION_ATTEMPTS = 3
"""How many times the whole rotation runs before Secrets Manager gives up for now. AWS says
only that it "retries the entire rotation process multiple times" (DescribeSecret,
NextRotationDate) and publishes no number; 3 (a first run and two retries) is the smallest
count that is "multiple" retries, so a function that converges here converges on AWS."""
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
"""Lambda's default function timeout (AWS Lambda Developer Guide, "Configure Lambda function
timeout"); the platform's rotation function sets its own."""
PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"
INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted."
NO_FUNCTION = (
    "You tried to enable rotation on a secret that doesn't already have a Lambda function "
    "ARN configured and you didn't include such an ARN as a parameter in this call."
)
FAKE_KEY = "testing"
"""The execution role's credentials, as Lambda puts them in the environment: fake here."""

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class Invocation:
    attempt: int
    step: str
    version_id: str
    error: str | None
    """None when the step returned in time."""


@dataclass
class RotationFunction:
    """A rotation function's configuration and every invocation it received."""

    arn: str
    handler: Handler
    timeout_seconds: int = LAMBDA_DEFAULT_TIMEOUT_SECONDS
    environment: dict[str, str] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.arn.split(":function:", 1)[-1].split(":", 1)[0]

    def steps(self, version_id: str | None = None) -> list[str]:
        """The steps invoked, in order (for one version if given)."""
        return [i.step for i in self.invocations if version_id in (None, i.version_id)]


class LambdaContext:
    """The part of Lambda's context object rotation functions use."""

    def __init__(self, function: RotationFunction, clock: VirtualClock) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._clock = clock
        self._deadline = clock.now() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


def _stages(secret: FakeSecret) -> dict[str, list[str]]:
    return {v: list(d["version_stages"]) for v, d in secret.versions.items()}


def incomplete_rotation(secret: FakeSecret) -> str | None:
    """The version whose AWSPENDING blocks a new rotation, or None."""
    for version, stages in _stages(secret).items():
        if PENDING in stages and CURRENT not in stages:
            return version
    return None


@contextmanager
def _lambda_environment(
    function: RotationFunction, secret: FakeSecret, endpoint_url: str | None
) -> Iterator[None]:
    """What Lambda puts in the environment: region, credentials, the function's variables.

    ``MOTO_ACCOUNT_ID`` keeps the function's calls in the secret's account, and with a moto
    server ``AWS_ENDPOINT_URL`` sends them back to it, never to a real endpoint.
    """
    values = {
        "AWS_REGION": secret.region,
        "AWS_DEFAULT_REGION": secret.region,
        "AWS_ACCESS_KEY_ID": FAKE_KEY,
        "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "MOTO_ACCOUNT_ID": secret.account_id,
        **function.environment,
    }
    if endpoint_url:
        values["AWS_ENDPOINT_URL"] = endpoint_url
    removed = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL")
    saved = {k: os.environ.get(k) for k in (*values, *removed)}
    for key in removed:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class _Run:
    """One RotateSecret: which function rotates which secret version, reached how."""

    function: RotationFunction
    secret: FakeSecret
    version_id: str
    endpoint_url: str | None


class RotationDriver:
    """RotateSecret for secrets whose rotation function is registered in-process."""

    def __init__(
        self, functions: Mapping[str, RotationFunction], clock: VirtualClock, attempts: int
    ) -> None:
        self.functions = functions
        self.clock = clock
        self.attempts = attempts

    def function(self, arn: str) -> RotationFunction | None:
        if arn in self.functions:
            return self.functions[arn]
        name = arn.split(":function:", 1)[-1].split(":", 1)[0]
        return next((f for f in self.functions.values() if f.name == name), None)

    def rotate(
        self,
        secret: FakeSecret,
        *,
        version_id: str,
        function: RotationFunction,
        rotate_immediately: bool,
        endpoint_url: str | None,
    ) -> None:
        run = _Run(function, secret, version_id, endpoint_url)
        self._stage_pending(secret, version_id, copy_current=not rotate_immediately)
        if not rotate_immediately:
            self._invoke(run, "testSecret", attempt=1)
            del secret.versions[version_id]
            return
        for attempt in range(1, self.attempts + 1):
            # all() stops at the first failing step: the next attempt starts from createSecret.
            if all(self._invoke(run, step, attempt=attempt) for step in STEPS):
                self._finish(secret, version_id)
                return
        # Gave up for now: AWSPENDING stays where it is, so the next RotateSecret is refused.

    def _invoke(self, run: _Run, step: str, *, attempt: int) -> bool:
        """One Lambda invocation; True when the step returned within its timeout."""
        event = {
            "Step": step,
            "SecretId": run.secret.arn,
            "ClientRequestToken": run.version_id,
            "RotationToken": str(uuid.uuid4()),
        }
        context = LambdaContext(run.function, self.clock)
        error: str | None = None
        with (
            _lambda_environment(run.function, run.secret, run.endpoint_url),
            waiters_sleep_on(self.clock),
        ):
            try:
                run.function.handler(event, context)
            except Exception as exc:  # any failure of the function fails the step
                error = f"{type(exc).__name__}: {exc}"
        if error is None and context.get_remaining_time_in_millis() == 0:
            error = f"Task timed out after {run.function.timeout_seconds} seconds"
        run.function.invocations.append(Invocation(attempt, step, run.version_id, error))
        return error is None

    @staticmethod
    def _stage_pending(secret: FakeSecret, version_id: str, *, copy_current: bool) -> None:
        """RotateSecret's own part: a new version id staged AWSPENDING, no value yet."""
        secret.remove_version_stages_from_old_versions([PENDING])
        version: dict[str, Any] = {
            "createdate": int(time.time()),
            "version_id": version_id,
            "version_stages": [PENDING],
        }
        if copy_current and secret.secret_string is not None:
            version["secret_string"] = secret.secret_string
        secret.versions[version_id] = version

    @staticmethod
    def _finish(secret: FakeSecret, version_id: str) -> None:
        """After a run whose four steps succeeded: AWSPENDING leaves the version if the
        function made it current (AWS allows either; a real secret shows it gone). moto's
        ``default_version_id`` follows AWSCURRENT so its other calls agree."""
        stages = secret.versions[version_id]["version_stages"]
        if CURRENT in stages:
            if PENDING in stages:
                stages.remove(PENDING)
            secret.set_default_version_id(version_id)
            secret.last_rotation_date = int(time.time())


MOTO_ROTATE_SECRET = SecretsManagerResponse.rotate_secret
"""moto's own RotateSecret, taken at import (see elasticache._MOTO)."""


class Patches:
    """moto's RotateSecret replaced by the driver for registered functions."""

    def __init__(self, driver: RotationDriver) -> None:
        self.driver = driver
        self.previous = SecretsManagerResponse.rotate_secret

    def install(self) -> None:
        patches = self

        def rotate_secret(response: SecretsManagerResponse) -> str:
            return patches.rotate(response)

        setattr(SecretsManagerResponse, "rotate_secret", rotate_secret)  # noqa: B010

    def uninstall(self) -> None:
        setattr(SecretsManagerResponse, "rotate_secret", self.previous)  # noqa: B010

    def rotate(self, response: SecretsManagerResponse) -> str:
        backend: SecretsManagerBackend = response.backend
        secret_id = response._get_param("SecretId")
        if not backend._is_valid_identifier(secret_id):
            raise SecretNotFoundException()
        secret = backend.secrets[secret_id]
        if not isinstance(secret, FakeSecret) or secret.is_deleted():
            original: str = MOTO_ROTATE_SECRET(response)  # moto's refusals for those cases
            return original
        if incomplete_rotation(secret):
            raise InvalidRequestException(INCOMPLETE)
        arn = response._get_param("RotationLambdaARN") or secret.rotation_lambda_arn
        if not arn:
            raise InvalidRequestException(NO_FUNCTION)
        function = self.driver.function(arn)
        if function is None:
            # Not registered in-process: moto's own path (its Lambda backend, with Docker).
            fallback: str = MOTO_ROTATE_SECRET(response)
            return fallback
        token = response._get_param("ClientRequestToken")
        version_id = backend._from_client_request_token(token)
        self._configure(secret, arn, response._get_param("RotationRules"))
        self.driver.rotate(
            secret,
            version_id=version_id,
            function=function,
            rotate_immediately=bool(response._get_bool_param("RotateImmediately", True)),
            endpoint_url=_server_endpoint(response),
        )
        return json.dumps({"ARN": secret.arn, "Name": secret.name, "VersionId": version_id})

    @staticmethod
    def _configure(secret: FakeSecret, arn: str, rules: dict[str, Any] | None) -> None:
        secret.rotation_requested = secret.rotation_enabled = True
        secret.rotation_lambda_arn = arn
        if rules and rules.get("AutomaticallyAfterDays"):
            secret.auto_rotate_after_days = int(rules["AutomaticallyAfterDays"])


def _server_endpoint(response: SecretsManagerResponse) -> str | None:
    """The moto server's own URL when the call came to one (in-process moto: None)."""
    host = str(response.headers.get("Host", ""))
    if not host or host.endswith(".amazonaws.com"):
        return None
    return f"http://{host}"
