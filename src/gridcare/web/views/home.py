from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path

from gridcare.access.roles import Role


@login_required
def home(request):
    """Landing page: customers go to the portal, staff to the console dashboard."""
    if request.user.role == Role.CUSTOMER:
        return redirect("web:portal_home")
    return render(request, "web/home.html", {})


urlpatterns = [path("", home, name="home")]
