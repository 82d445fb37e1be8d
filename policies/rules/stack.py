"""Policies: stack."""
