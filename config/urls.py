from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
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
