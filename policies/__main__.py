"""The policy pack: builds the PolicyPack from the rules, nothing else.

The Pulumi CLI (and ``blueprint check``) runs this as ``python -m pulumi.policy <address> .``
from this directory, which puts it on ``sys.path``: the rules import as ``rules``.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES  # type: ignore[import-not-found]  # the pack dir is on sys.path

PolicyPack(
    name="feature-platform",
    # Mandatory unless the environment's config file (policies/config/<env>.json) says otherwise.
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(POLICIES),
    description="Feature platform guardrails: encryption, network, identity, data protection, "
    "logging, governance and Kubernetes tenancy.",
)
