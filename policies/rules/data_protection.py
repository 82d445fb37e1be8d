"""Policies: data_protection."""
