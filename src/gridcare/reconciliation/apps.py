from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "gridcare.reconciliation"
    label = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"
