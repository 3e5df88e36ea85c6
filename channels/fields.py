"""A JSON field for secrets: encrypted at rest with Fernet when FIELD_ENCRYPTION_KEY is set."""

import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


def _fernet() -> Fernet | None:
    key = getattr(settings, "FIELD_ENCRYPTION_KEY", "")
    if not key:
        return None
    try:
        return Fernet(key.encode())
    except ValueError as exc:  # a key that is not 32 url-safe base64 bytes
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be a Fernet key (Fernet.generate_key())."
        ) from exc


class EncryptedJSONField(models.TextField):
    """Stores a dict. The column holds JSON, or `fernet:<token>` when a key is configured;
    rows written before the key was set stay readable and are encrypted on their next save."""

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, dict):
            return value if value is not None else {}
        if value.startswith(PREFIX):
            fernet = _fernet()
            if fernet is None:
                raise ImproperlyConfigured("Encrypted credentials found but FIELD_ENCRYPTION_KEY is not set.")
            try:
                value = fernet.decrypt(value[len(PREFIX) :].encode()).decode()
            except InvalidToken as exc:
                raise ImproperlyConfigured(
                    "FIELD_ENCRYPTION_KEY does not decrypt the stored credentials."
                ) from exc
        return json.loads(value or "{}")

    def get_prep_value(self, value):
        text = json.dumps(value or {}, sort_keys=True)
        fernet = _fernet()
        if fernet is not None:
            return PREFIX + fernet.encrypt(text.encode()).decode()
        return text

    def value_to_string(self, obj):
        return ""  # never serialise secrets (dumpdata, admin history)
