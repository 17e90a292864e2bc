from django.urls import include, path
from django.views.generic import RedirectView

from gridcare.api.urls import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("", include("gridcare.web.urls")),
]
