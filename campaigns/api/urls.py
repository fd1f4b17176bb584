from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from .callbacks import vendor_callback
from .views import CampaignCallsView, CampaignViewSet, RecipientImportViewSet, VendorAccountViewSet

# Three models have a field named "state" with different choices, and outcomes appear under two
# field names: name these enums explicitly.
# (Belongs in SPECTACULAR_SETTINGS too, so that `manage.py spectacular` agrees with /api/schema/.)
SCHEMA_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "CampaignStateEnum": "campaigns.models.Campaign.State",
        "CallStateEnum": "campaigns.models.CallRecord.State",
        "ImportStateEnum": "campaigns.models.RecipientImport.State",
        "OutcomeEnum": "campaigns.models.OUTCOME_CHOICES",  # also the items of retry_outcomes
    },
}

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("imports", RecipientImportViewSet, basename="recipientimport")
router.register("vendor-accounts", VendorAccountViewSet, basename="vendoraccount")

urlpatterns = [
    path("callbacks/<str:vendor>/<str:token>/", vendor_callback, name="vendor-callback"),
    path("campaigns/<int:id>/calls/", CampaignCallsView.as_view(), name="campaign-calls"),
    path("schema/", SpectacularAPIView.as_view(custom_settings=SCHEMA_SETTINGS), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
]
