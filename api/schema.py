"""The OpenAPI schema's shared parts (drf-spectacular): the token scheme, column references,
and the errors every operation can answer, in the one error shape (``flowboard.api``)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc

from api.serializers import StrictSerializer
from flowboard.api import Problem

ERRORS = {
    "400": "Malformed or invalid input: `errors` names each field.",
    "401": "Not authenticated: send `Authorization: Token <key>` (or sign in).",
    "403": "Your role on the board does not allow this (or the CSRF check failed).",
    "404": "No such board or item among yours.",
    "406": "The Accept header asks for something other than JSON.",
    "429": "Too many requests for this token: wait `retry_after` seconds.",
}
RULE = (
    "Well-formed, but refused by a rule: a column not on the board, a time out of order, a "
    "cursor that is not of this list."
)
BODY_ERRORS = {
    "413": "The body is over the size limit.",
    "415": "The body is not `application/json`.",
}


# What the API accepts, said in the schema so that a client (or a fuzzer) knows it up front.
DATE = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
MOMENT = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T.*(Z|[+-][0-9:]+)$"
# Text without control characters (tab, line feed and carriage return allowed). A lone
# surrogate (an escape only JSON can carry) is refused too, but no pattern can say so.
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$"  # the empty string: its own oneOf branch
# Links: http(s) to a named host, the part of Django's URLValidator a client can rely on.
LINK = r"^https?://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(/[^\s]*)?$"


class Schema(AutoSchema):
    """Every operation documents the errors any request to it can get; request bodies refuse
    unknown fields; dates, times and text say what they accept."""

    def get_description(self):
        """The view's own docstring, never one it inherits from a base class."""
        if vars(type(self.view)).get("__doc__") is None:
            method = getattr(self.view, self.method.lower(), None)
            return get_doc(method) if method else ""
        return super().get_description()

    def _get_parameters(self):
        """Query parameters are never empty (an empty one is a 400) and, as text, have no
        control characters."""
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if parameter.get("in") != "query" or schema.get("type") != "string":
                continue
            if schema.get("format") == "date-time":
                schema.setdefault("pattern", MOMENT)
            elif schema.get("format") == "date":
                schema.setdefault("pattern", DATE)
            elif "enum" not in schema:
                schema.setdefault("pattern", TEXT)
            if "enum" not in schema:
                schema.setdefault("minLength", 1)
        return parameters

    def _map_basic_serializer(self, serializer, direction):
        result = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            result["additionalProperties"] = False
        return result

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        result = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or not isinstance(result, dict):
            return result
        if result.get("format") == "date":
            result["pattern"] = DATE
        elif result.get("format") == "date-time":
            result["pattern"] = MOMENT
        elif result.get("format") == "uri":
            result["pattern"] = LINK
        elif result.get("type") == "string" and not result.keys() & {"enum", "pattern", "format"}:
            result["pattern"] = TEXT
        return result

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(BODY_ERRORS)
        if self.method != "GET" or self._is_list_view():
            errors["422"] = RULE
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(Problem, code, direction=direction)
                responses[code]["description"] = description
        return responses


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: an API token an ops lead created in the admin.",
        }
