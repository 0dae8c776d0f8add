"""OpenAPI descriptions of our authentication classes (drf-spectacular cannot guess them)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class IngestionTokenScheme(OpenApiAuthenticationExtension):
    target_class = "ecommerce.api.authentication.IngestionTokenAuthentication"
    name = "ingestionToken"
    match_subclasses = True

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Server-side ingestion token."}


class CsrfSessionScheme(OpenApiAuthenticationExtension):
    target_class = "ecommerce.api.authentication.CsrfEnforcedSessionAuthentication"
    name = "csrfCookieAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "Django session; CSRF token required even for anonymous sessions.",
        }
