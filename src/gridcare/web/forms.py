"""Console forms. They only shape input: validation rules live in the services, whose errors the
views put back on the field they name (`form_errors_from`)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridcare.access.labels import object_type_label
from gridcare.access.models import AuditEvent
from gridcare.core.errors import GridcareError
from gridcare.customers.models import Customer, CustomerCategory


class LoginForm(AuthenticationForm):
    """Bootstrap classes on the stock form; authentication itself stays Django's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


def _bootstrap(form: forms.Form) -> None:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
        field.widget.attrs.setdefault("class", css)


def form_errors_from(form: forms.Form, exc: GridcareError) -> None:
    """Put a service error (or every error of a CustomerInvalid) on the field it names."""
    for field, message in getattr(exc, "errors", None) or [(exc.field, exc.message)]:
        form.add_error(field if field in form.fields else None, message)


def mark_invalid(form: forms.Form) -> forms.Form:
    """Bootstrap's red border on every field with an error."""
    for name in form.errors:
        if name in form.fields:
            widget = form.fields[name].widget
            widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()
    return form


class CustomerSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"placeholder": _("name, phone, account or meter number"),
                                                      "type": "search", "autocomplete": "off"}))
    category = forms.ChoiceField(label=pgettext_lazy("customer", "Category"), required=False,
                                 choices=[("", pgettext_lazy("customer", "All categories")), *CustomerCategory.choices])
    org_unit = forms.ChoiceField(label=_("Org unit"), required=False)
    kind = forms.ChoiceField(label=pgettext_lazy("customer", "Kind"), required=False, choices=[("", _("All kinds")), *Customer.Kind.choices])

    def __init__(self, *args, org_units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].choices = [("", _("All my org units"))] + [
            (u.code, "\u2003" * (u.path.count("/") - 2) + u.name) for u in org_units
        ]
        _bootstrap(self)


class CustomerForm(forms.Form):
    """Create/edit. On edit, personal fields the role may not see come blank with the masked value as
    placeholder; left blank, they keep their stored value."""

    kind = forms.ChoiceField(label=pgettext_lazy("customer", "Kind"), choices=Customer.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=128, required=False)
    id_type = forms.ChoiceField(label=_("ID type"), choices=Customer.IdType.choices)
    id_number = forms.CharField(label=_("ID number"), max_length=32, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    address = forms.CharField(label=_("Address"), max_length=255, required=False)
    org_unit_code = forms.ChoiceField(label=_("Org unit"))
    industry = forms.CharField(label=_("Industry"), max_length=64, required=False)
    protected_class = forms.CharField(label=_("Protected class"), max_length=32, required=False,
                                      help_text=_("e.g. hospital; exempt from suspension of supply as configured"))
    external_id = forms.CharField(label=_("External id"), max_length=64, required=False)

    def __init__(self, *args, org_units=(), masked: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org_unit_code"].choices = [("", "—")] + [
            (u.code, "\u2003" * (u.path.count("/") - 2) + f"{u.name} ({u.code})") for u in org_units
        ]
        self.kept_fields = set()
        for field, masked_value in (masked or {}).items():
            self.fields[field].widget.attrs["placeholder"] = masked_value
            self.fields[field].help_text = _("shown masked; leave empty to keep the stored value")
            self.kept_fields.add(field)
        _bootstrap(self)

    def changes(self) -> dict[str, str]:
        """The submitted values, minus masked fields left empty (they keep what is stored)."""
        return {k: v for k, v in self.cleaned_data.items() if not (k in self.kept_fields and v == "")}


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False,
                               choices=[("", _("All actions")), *AuditEvent.Action.choices])
    object_type = forms.ChoiceField(label=_("Object type"), required=False)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    actor = forms.CharField(label=_("User"), required=False, max_length=150)
    q = forms.CharField(label=_("Summary contains"), required=False, max_length=100)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, object_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", _("All types"))] + [(t, object_type_label(t)) for t in object_types]
        _bootstrap(self)
