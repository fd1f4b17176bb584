from django.urls import path

from .callbacks import vendor_callback

urlpatterns = [
    path("callbacks/<str:vendor>/<str:token>/", vendor_callback, name="vendor-callback"),
]
