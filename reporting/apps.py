from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """Read-only figures: the admin home page, the finance page, and the charts both draw (no models)."""

    name = "reporting"
