"""Preflight: a read-only check of an account against what a stack's plan needs.

Run before the first ``pulumi up`` in an account (``blueprint preflight STACK``): the
prerequisites the program depends on but does not manage (docs/runbooks/bootstrap-environment.md)
and the Service Quotas the plan would consume. See docs/adr/0016-preflight.md.
"""
