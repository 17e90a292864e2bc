from django.apps import AppConfig


class KpiConfig(AppConfig):
    name = "gridcare.kpi"
    label = "kpi"
    default_auto_field = "django.db.models.BigAutoField"
