"""Read-only conformance audit of an AWS account (moto or real), the live twin of the policies."""
