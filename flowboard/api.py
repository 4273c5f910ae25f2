"""API plumbing shared by every app: one error shape for every refusal, and JSON answers for
the API's paths where Django would answer in HTML.

Every error the API returns is ``{"code": ..., "detail": ...}``, with ``errors`` (field name to
messages) for invalid input and, for a refused move at a gate, ``unmet`` (the pending criteria).
``code`` is machine-readable and stable; ``detail`` is a sentence for a person.
"""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.metadata import SimpleMetadata
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from flowboard import validation
from flowboard.errors import FlowboardError, MalformedInput, StaleVersion

API_PREFIX = "/api/"


def exception_handler(exc, context):
    """Domain refusals become their 4xx with a code and detail; everything DRF knows (auth,
    permissions, throttling, parsing, validation) the same shape."""
    if isinstance(exc, StaleVersion):
        # The If-Match the request carried, found stale under the item's lock (a writer got in
        # between the view's check and the lock): the same 412 as the view's own check.
        return Response(
            {"code": "precondition_failed", "detail": exc.message},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
    if isinstance(exc, FlowboardError):
        data = exc.as_dict()
        if isinstance(data.get("field"), str) and "errors" not in data:
            data["errors"] = {data["field"]: [exc.message]}
        return Response(data, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(invalid(errors), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = invalid(errors)
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        code = code if isinstance(code, str) else exc.default_code
        if isinstance(exc, exceptions.NotFound):
            code = "not_found"
        response.data = {"code": code, "detail": _text(exc.detail)}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = int(exc.wait + 0.999)
    return response


class Problem(serializers.Serializer):
    """The one shape of every error (for the OpenAPI schema)."""

    code = serializers.CharField(help_text="Stable and machine-readable: wip_limit, not_found...")
    detail = serializers.CharField(help_text="A sentence for a person.")
    errors = serializers.DictField(required=False, help_text="Messages per field.")
    unmet = serializers.ListField(required=False, help_text="A gate's pending criteria.")


class Metadata(SimpleMetadata):
    """OPTIONS answers the view's name, description and content types; what each field takes
    is in the OpenAPI schema (/api/schema/), so no object is looked up for it."""

    def determine_actions(self, request, view):
        return {}


def refuse_unknown_query(request, allowed) -> None:
    """A query parameter the endpoint does not take is a 400 naming it: a typo in a filter
    (``?colum=Build``) would otherwise answer with everything. So is an empty value (``?kind=``
    would silently filter nothing) and one with a control character."""
    for name, values in request.query_params.lists():
        for value in values:
            if value == "":
                message = f"{name}: is empty; give a value or leave the parameter out."
                raise MalformedInput(message, errors={name: ["is empty."]})
            try:
                validation.characters(value, f"The parameter {name}", name)
            except MalformedInput:
                raise
            except FlowboardError as error:
                raise MalformedInput(error.message, errors={name: [error.message]}) from None
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise MalformedInput(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(name) for name in unknown)}; this endpoint takes: {known}.",
            errors={name: ["Unknown parameter."] for name in unknown},
        )


def invalid(errors) -> dict:
    """The 400 of invalid input: the fields named in ``detail``, their messages in ``errors``."""
    errors = {str(name): _messages(value) for name, value in dict(errors).items()}
    fields = [name for name in errors if name != "non_field_errors"]
    if fields:
        detail = f"Invalid input: {', '.join(fields)}. See errors for each field."
    else:
        detail = " ".join(errors.get("non_field_errors", [])) or "Invalid input."
    return {"code": "invalid_input", "detail": detail, "errors": errors}


def _messages(value):
    if isinstance(value, dict):
        return {str(k): _messages(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
        return [_messages(v) for v in value]
    return [str(value)]


def _text(detail) -> str:
    if isinstance(detail, list | tuple):
        return " ".join(_text(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_text(v)}" for k, v in detail.items())
    return str(detail)


def problem(code: str, detail: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail, **extra}, status=status)


class ApiBodyLimit:
    """413 for a request body over the API's cap (``API_MAX_BODY_BYTES``; webhooks
    ``HOOK_MAX_BODY_BYTES``), judged by its Content-Length before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            hook = request.path.startswith(API_PREFIX + "v1/hooks/")
            limit = settings.HOOK_MAX_BODY_BYTES if hook else settings.API_MAX_BODY_BYTES
            raw = request.META.get("CONTENT_LENGTH") or "0"
            try:
                length = int(raw)
            except ValueError:
                return problem(
                    "invalid_length", f"Content-Length {raw[:40]!r} is not a number.", 400
                )
            if length > limit:
                return problem(
                    "too_large",
                    f"The body is {length} bytes; this endpoint takes at most {limit}.",
                    413,
                    limit=limit,
                )
        return self.get_response(request)


@csrf_exempt  # it changes nothing; a refused CSRF check would be Django's HTML 403
def api_not_found(request, rest=""):
    """The last URL under /api/: an unknown path there is a JSON 404, with DEBUG on too (where
    Django would show its HTML page), and a path missing its final slash is told so instead of
    being redirected (a redirected POST loses its body; with DEBUG Django raises instead)."""
    from django.urls import Resolver404, resolve

    detail = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail += f" Paths end with a slash: {request.path}/"
    return problem("not_found", detail, 404)


def not_found(request, exception=None):
    """Django's 404, in JSON under /api/ (an unknown path there), the HTML page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return problem("not_found", f"No API endpoint at {request.path}.", 404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIX):
        return problem("server_error", "The server failed; the error was logged.", 500)
    from django.views.defaults import server_error as default

    return default(request)
