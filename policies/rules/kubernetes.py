"""Policies: kubernetes."""
