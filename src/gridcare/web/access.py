"""View guards: staff pages need a capability, portal pages need a customer login."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from gridcare.access.roles import Role, can


def staff_required(capability: str):
    """Staff page guard: a customer is sent to the portal, a staff role without the capability gets 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.user.role == Role.CUSTOMER:
                return redirect("web:portal_home")
            if not can(request.user.role, capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def portal_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.role != Role.CUSTOMER:
            return redirect("web:home")
        return view(request, *args, **kwargs)

    return wrapped
