from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "gridcare.billing"
    label = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from gridcare.billing.attachments import KIND, bill_pdf_attachment
        from gridcare.notifications.attachments import register_attachment_provider

        register_attachment_provider(KIND, bill_pdf_attachment)
