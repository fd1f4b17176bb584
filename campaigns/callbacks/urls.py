from django.urls import path

from .views import vendor_callback

# Included under /api/ beside the REST API: vendors were given these addresses, keep them.
urlpatterns = [
    path("callbacks/<str:vendor>/<str:token>/", vendor_callback, name="vendor-callback"),
]
