"""Policies: governance."""
