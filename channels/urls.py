from django.urls import path
from django.views.generic import RedirectView

from channels import webhooks

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("webhooks/<int:channel_id>/<str:kind>/", webhooks.receive, name="channel-webhook"),
]
