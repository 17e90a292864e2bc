from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "gridcare.visits"
    label = "visits"
    default_auto_field = "django.db.models.BigAutoField"
