"""/admin/shipping/csv/: spreadsheet uploads (mounted by config/urls.py before the admin itself)."""

from django.contrib import admin
from django.urls import path

from shipping import csv_views

app_name = "shipping_csv"


def _admin(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("", _admin(csv_views.upload), name="upload"),
    path("jobs/", _admin(csv_views.jobs), name="jobs"),
    path("jobs/<int:pk>/", _admin(csv_views.job), name="job"),
    path("jobs/<int:pk>/status.json", _admin(csv_views.job_status), name="job_status"),
    path("jobs/<int:pk>/confirm/", _admin(csv_views.confirm), name="confirm"),
    path("jobs/<int:pk>/discard/", _admin(csv_views.discard), name="discard"),
    path("jobs/<int:pk>/download/<str:what>/", _admin(csv_views.download), name="download"),
    path("templates/<str:mode>.<str:fmt>", _admin(csv_views.template), name="template"),
]
