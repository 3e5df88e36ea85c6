from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.health import healthz

urlpatterns = [path("healthz", healthz, name="healthz")]
# Admin pages that live outside a ModelAdmin (bulk CSV imports), mounted before the admin itself.
try:
    urlpatterns.append(path("admin/shipping/csv/", include("shipping.csv_urls")))
except ModuleNotFoundError as exc:
    if exc.name != "shipping.csv_urls":
        raise
urlpatterns += [
    path("api/v1/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("", include("channels.urls")),
]

# Public pages of the later apps (tracking pages, returns portal, supplier upload page), each
# mounted when its urls module exists.
for prefix, module in [("", "shipping.urls"), ("returns/", "returns.urls"), ("", "suppliers.urls")]:
    try:
        urlpatterns.append(path(prefix, include(module)))
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
