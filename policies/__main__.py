"""The policy pack: builds the PolicyPack from the rules, nothing else.

The Pulumi CLI (and ``blueprint check``) runs this as ``python -m pulumi.policy <address> .``
from this directory, which puts it on ``sys.path``: the rules import as ``rules``.
"""

import os

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES  # type: ignore[import-not-found]  # the pack dir is on sys.path
from rules._analyzer import DECODE_ONCE, install  # type: ignore[import-not-found]

# `blueprint check` asks for the servicer that decodes each resource once per request, not
# once per policy (rules/_analyzer.py; its answers are the SDK's, message for message, as
# tests/test_check_analyzer.py proves). Under the Pulumi CLI the SDK's own servicer serves.
if os.environ.get(DECODE_ONCE) == "1":
    install()

PolicyPack(
    name="feature-platform",
    # Mandatory unless the environment's config file (policies/config/<env>.json) says otherwise.
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(POLICIES),
    description="Feature platform guardrails: encryption, network, identity, data protection, "
    "logging, governance and Kubernetes tenancy.",
)
