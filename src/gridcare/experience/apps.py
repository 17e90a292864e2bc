from django.apps import AppConfig


class ExperienceConfig(AppConfig):
    name = "gridcare.experience"
    label = "experience"
    default_auto_field = "django.db.models.BigAutoField"
