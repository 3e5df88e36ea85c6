from django.urls import path
from django.views.i18n import set_language

from returns import views

app_name = "returns"

urlpatterns = [
    path("", views.lookup, name="lookup_default"),
    path("language/", set_language, name="language"),
    path("<slug:brand>/", views.lookup, name="lookup"),
    path("<slug:brand>/items/", views.items, name="items"),
    path("<slug:brand>/email-link/", views.email_link, name="email_link"),
    path("<slug:brand>/link/<str:token>/", views.link, name="link"),
    path("<slug:brand>/confirm/", views.confirm, name="confirm"),
    path("<slug:brand>/start-again/", views.start_again, name="start_again"),
    path("<slug:brand>/logo/", views.logo, name="logo"),
    path("<slug:brand>/r/<str:token>/", views.status, name="status"),
    path("<slug:brand>/r/<str:token>/label.pdf", views.label, name="label"),
    path("<slug:brand>/r/<str:token>/qr.png", views.qr_code, name="qr_code"),
]
