from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParametersConfig(AppConfig):
    name = "gridcare.parameters"
    label = "parameters"
    verbose_name = _("Billing parameters")
    default_auto_field = "django.db.models.BigAutoField"
