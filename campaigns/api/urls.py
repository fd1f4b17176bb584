from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from .docs_access import SchemaAccess, docs_login_required
from .views import (
    CampaignCallsView,
    CampaignViewSet,
    RecipientImportViewSet,
    SingleCallViewSet,
    VendorAccountViewSet,
    VoiceTemplateViewSet,
)

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("calls", SingleCallViewSet, basename="singlecall")
router.register("imports", RecipientImportViewSet, basename="recipientimport")
router.register("vendor-accounts", VendorAccountViewSet, basename="vendoraccount")
router.register("templates", VoiceTemplateViewSet, basename="voicetemplate")

urlpatterns = [
    path("campaigns/<int:id>/calls/", CampaignCallsView.as_view(), name="campaign-calls"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[SchemaAccess]), name="api-schema"),
    # the split view serves its script from a URL (?script), so the page runs under the CSP
    path(
        "docs/",
        docs_login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    *router.urls,
]
