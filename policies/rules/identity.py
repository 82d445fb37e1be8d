"""Policies: identity."""
