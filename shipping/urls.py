from django.urls import path

from shipping import views

app_name = "shipping"
urlpatterns = [
    path("track/<str:token>/", views.track, name="track"),
    path("webhooks/carriers/<int:account_id>/", views.carrier_webhook, name="carrier_webhook"),
]
