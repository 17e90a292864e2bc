from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "gridcare.assistant"
    label = "assistant"
    default_auto_field = "django.db.models.BigAutoField"
