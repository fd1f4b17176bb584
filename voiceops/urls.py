from django.contrib import admin
from django.contrib.staticfiles import finders
from django.http import FileResponse
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; answer rather than log a 404."""
    return FileResponse(open(finders.find("voiceops/favicon.ico"), "rb"), content_type="image/x-icon")


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("dashboard/finance/", include("reporting.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("campaigns.callbacks.urls")),  # vendor pushes: plain views, not the REST API
    path("api/", include("campaigns.api.urls")),
    path("api/", include("webhooks.api.urls")),
]

# Under /api/ these answer the API's JSON error body; elsewhere Django's usual pages.
handler400 = "voiceops.api.errors.bad_request"
handler403 = "voiceops.api.errors.permission_denied"
handler404 = "voiceops.api.errors.not_found"
handler500 = "voiceops.api.errors.server_error"
