"""Rotation of the online store's AUTH token (Secrets Manager rotation function)."""
