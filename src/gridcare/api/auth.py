"""API authentication: bearer tokens for scripts/apps, the session for the console's own calls."""

from __future__ import annotations

from django.utils import timezone
from ninja.security import HttpBearer, django_auth

from gridcare.access.services import api_token_user


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        user = api_token_user(raw=token, as_of=timezone.now())
        if user is not None:
            request.user = user
        return user


API_AUTH = [BearerToken(), django_auth]
