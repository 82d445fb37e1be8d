"""Pulumi components of the feature platform."""
