"""Reliability as code: burn-rate maths and the alert rules generated from the SLO config."""
