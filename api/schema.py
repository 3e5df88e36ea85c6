"""How the OpenAPI schema describes the API key (loaded by ApiConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created by staff in the admin (API and webhooks › API keys), "
            "sent as `Authorization: Bearer <key>`. Each endpoint needs one scope of the key.",
        }
