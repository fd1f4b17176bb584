from django.urls import path

from .views import finance_dashboard, finance_export

urlpatterns = [
    path("", finance_dashboard, name="finance-dashboard"),
    path("export.csv", finance_export, name="finance-export"),
]
