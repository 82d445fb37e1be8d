"""CKV_FP_K8S_1: every platform namespace enforces the ``restricted`` Pod Security Standard.

Why: the Pod Security admission controller is the cluster's only built-in guard against
privileged pods, host namespaces, hostPath volumes and root containers; it acts only on
namespaces labelled ``pod-security.kubernetes.io/enforce``. A tenant namespace without the
``restricted`` level lets any workload (or anyone able to create pods in it) escape to the node
and from there reach other tenants (see docs/security.md). ``audit`` and ``warn`` only report.
checkov has no check on Namespace labels.

The namespaces Kubernetes and EKS own (``kube-system``, ``kube-public``, ``kube-node-lease``,
``default``) are not the platform's to label: the check returns UNKNOWN for them, so they
appear neither as passed nor as failed.
"""

from __future__ import annotations

from typing import Any

from checkov.common.bridgecrew.severities import BcSeverities, Severities
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.kubernetes.checks.resource.base_spec_check import BaseK8Check

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
REQUIRED_LEVEL = "restricted"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})


class NamespaceEnforcesRestrictedPodSecurity(BaseK8Check):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure namespaces enforce the restricted Pod Security Standard",
            id="CKV_FP_K8S_1",
            categories=(CheckCategories.KUBERNETES,),
            supported_entities=("Namespace",),
            guideline="docs/security.md",
        )
        self.severity = Severities[BcSeverities.HIGH]

    def scan_spec_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [f"metadata/labels/{ENFORCE_LABEL}"]
        metadata = conf.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        if metadata.get("name") in SYSTEM_NAMESPACES:
            return CheckResult.UNKNOWN
        labels = metadata.get("labels")
        level = labels.get(ENFORCE_LABEL) if isinstance(labels, dict) else None
        if level == REQUIRED_LEVEL:
            return CheckResult.PASSED
        self.details.append(f"{ENFORCE_LABEL} is {level or 'not set'}, not {REQUIRED_LEVEL}")
        return CheckResult.FAILED


check = NamespaceEnforcesRestrictedPodSecurity()
