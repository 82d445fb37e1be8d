"""Policies: transit."""
