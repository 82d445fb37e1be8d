"""Kubernetes NetworkPolicies analysed offline, to prove tenant isolation by the analyzer's
answer, not by reading the manifests' text.

- :mod:`~blueprint.netpol.client`: :func:`~blueprint.netpol.client.analyze`, a typed
  connectivity map (the only module the project imports);
- :mod:`~blueprint.netpol.environment`: the analyzer's own environment, ``.tools/netpol``
  (IBM np-guard's network-config-analyzer, Apache-2.0, test-only).
"""
