from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    """Bootstrap classes on the stock form; authentication itself stays Django's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")
