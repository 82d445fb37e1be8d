"""Policies: logging."""
