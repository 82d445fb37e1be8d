"""Policies: network."""
