"""Observability: SLO burn-rate alarms, health alarms, alert routing, Prometheus, dashboard."""
