"""The OpenAPI description of what every endpoint shares: its error answers
and the token authentication scheme (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every refusal that is not about particular fields."""

    detail = serializers.CharField()


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers each operation can give,
    so that the schema describes what the API does and clients (and schemathesis)
    can rely on it."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        method = self.method.upper()
        errors = {"401": ErrorSerializer, "403": ErrorSerializer}
        path_has_id = "{" in self.path
        if path_has_id:
            errors["404"] = ErrorSerializer
        if method in ("POST", "PUT", "PATCH"):
            errors["400"] = OpenApiTypes.OBJECT
            errors["409"] = ErrorSerializer
            errors["413"] = ErrorSerializer
            errors["415"] = ErrorSerializer
        elif method == "DELETE":
            errors["409"] = ErrorSerializer
        elif self._is_list_view() or not path_has_id:
            # Filter values are validated: a bad one is a 400 with its field.
            errors["400"] = OpenApiTypes.OBJECT
        for code, body in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code)
        return responses


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "analysts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A personal token from your profile page, sent as "
            "`Token <key>`.",
        }
