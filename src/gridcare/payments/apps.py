from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "gridcare.payments"
    label = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from gridcare.payments import receivers

        receivers.connect()
