"""The staff sign-in's brute-force limit (django-axes) and what it records.

django-axes stores the username a failed attempt typed in a 255-character column; a sign-in
form posted with a 5,000-character "username" then failed on PostgreSQL with a 500. No
username is longer than the user model allows (150), so the attempt is recorded under the
first 150 characters: the limit still counts it, and nothing breaks."""

from __future__ import annotations

from django.contrib.auth import get_user_model


def attempted_username(request, credentials: dict | None = None) -> str:
    """AXES_USERNAME_CALLABLE: the username as typed, cut to what a username can be."""
    field = get_user_model().USERNAME_FIELD
    value = (credentials or {}).get(field)
    if value is None and request is not None:
        value = request.POST.get(field, "")
    limit = get_user_model()._meta.get_field(field).max_length or 150
    return str(value or "")[:limit]
