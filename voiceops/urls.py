from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("dashboard/finance/", include("reporting.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("campaigns.callbacks.urls")),  # vendor pushes: plain views, not the REST API
    path("api/", include("campaigns.api.urls")),
]
