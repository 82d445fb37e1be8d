"""Offline tooling for the feature platform: capture a stack's plan without AWS or the CLI."""
