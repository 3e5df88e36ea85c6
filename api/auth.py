"""Who is calling, what it may do, and how often: API keys with scopes, rate-limited per key."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from api.models import ApiKey

SCHEMES = (b"bearer", b"token")


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` (or `Token <key>`). No header: anonymous (refused with 401
    by the permission). A header with an unknown, malformed or revoked key: 401."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Give the key after the scheme: “Bearer <key>”."))
        try:
            text = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Unknown API key.")) from None
        key = ApiKey.find(text)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Unknown API key."))
        if not key.is_active:
            raise exceptions.AuthenticationFailed(_("This API key was revoked."))
        now = timezone.now()
        if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=1):
            # At most one write a minute per key, not one per call.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        from django.contrib.auth.models import AnonymousUser

        # The key is the caller (request.auth); there is no staff user behind an API call.
        return AnonymousUser(), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasScope(permissions.BasePermission):
    """The view's `scopes` maps HTTP methods to the scope a key needs (e.g. {"GET": "orders:read",
    "POST": "orders:write"}). No key: 401; a key without the scope: 403."""

    def has_permission(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated(_("Send an API key: “Authorization: Bearer <key>”."))
        needed = getattr(view, "scopes", {}).get(request.method)
        if needed is None:
            # A method the view does not answer gets its 405; one it answers needs a scope named.
            return request.method == "OPTIONS" or not hasattr(view, request.method.lower())
        if not key.has_scope(needed):
            self.message = _("This API key lacks the scope “%(scope)s”.") % {"scope": needed}
            return False
        return True


class ApiKeyThrottle(throttling.SimpleRateThrottle):
    """API_RATE_PER_KEY calls per key, counted in the default cache (shared by every web
    process when CACHE_URL is Redis)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class StaffOrKey(permissions.BasePermission):
    """The schema and its page: staff signed in to the admin, or any active API key."""

    def has_permission(self, request, view):
        if isinstance(request.auth, ApiKey):
            return True
        user = request.user
        if not (user and user.is_authenticated):
            raise exceptions.NotAuthenticated()
        return bool(user.is_staff)
