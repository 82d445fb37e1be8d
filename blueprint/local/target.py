"""Where the local deploy and the audit send their boto3 calls.

* in-process moto (``moto.mock_aws``): the default for ``blueprint up --local``;
* a moto server at ``--endpoint URL`` (``blueprint moto-server`` starts one);
* for ``blueprint audit`` only: a real account through a named profile.

Clients retry throttling with botocore's standard mode and carry the account the
program's provider pins (moto honours ``x-moto-account-id``), so ARNs name the same
account as they would in AWS.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from moto.core.config import DefaultConfig

RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
FAKE_KEY = "testing"  # moto accepts any credentials; real ones are never needed or read


@dataclass
class AwsTarget:
    region: str
    endpoint_url: str | None = None
    profile: str | None = None
    account_id: str | None = None
    """Account moto should act as (ignored by real AWS)."""
    emulated: bool = True
    """True for moto (in-process or server): fake credentials, never a real account."""
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _session: boto3.session.Session | None = field(default=None, repr=False)

    def session(self) -> boto3.session.Session:
        """One session for every client: botocore then loads each model file once."""
        if self._session is None:
            if self.emulated:
                self._session = boto3.session.Session(
                    aws_access_key_id=FAKE_KEY,
                    aws_secret_access_key=FAKE_KEY,
                    region_name=self.region,
                )
            else:
                self._session = boto3.session.Session(
                    region_name=self.region, profile_name=self.profile
                )
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or self.region
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.new_client(service, region=region)
        return self._clients[key]

    def new_client(
        self, service: str, *, region: str | None = None, config: Config = RETRIES
    ) -> Any:
        """A boto3 client of this target (not cached), carrying the account moto should act as."""
        client: Any = self.session().client(  # type: ignore[call-overload]
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            config=config,
        )
        if self.emulated:
            # Read at each request, not at creation: a client made before the program's
            # provider named the account (a data source call, say) must not stay in
            # moto's default account.
            def add_account(request: Any, **_: Any) -> None:
                if self.account_id:
                    request.headers["x-moto-account-id"] = self.account_id

            client.meta.events.register("before-sign.*.*", add_account)
        return client


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> bool:
    """True once something accepts connections on ``host:port`` (a moto server starting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


MOTO_CONFIG: DefaultConfig = {"iam": {"load_aws_managed_policies": True}}
"""moto settings for a local deploy: the AWS-managed policies exist, as in a real account
(the cluster and node roles attach ``AmazonEKSClusterPolicy`` and friends)."""
MOTO_SERVER_ENVIRONMENT = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
"""The same for a moto server, which reads it from the environment."""
