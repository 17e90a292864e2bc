from django.apps import AppConfig


class TariffsConfig(AppConfig):
    name = "gridcare.tariffs"
    label = "tariffs"
    default_auto_field = "django.db.models.BigAutoField"
