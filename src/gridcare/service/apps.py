from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "gridcare.service"
    label = "service"
    default_auto_field = "django.db.models.BigAutoField"
