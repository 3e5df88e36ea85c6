"""The supplier's private page, mounted at the site root by config/urls.py."""

from django.urls import path

from suppliers import views

app_name = "suppliers"
urlpatterns = [
    path("supplier/<str:token>/", views.upload, name="upload"),
]
