"""API plumbing shared by every app: the one exception handler that maps domain errors to HTTP."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from flowboard.errors import FlowboardError


def exception_handler(exc, context):
    """Domain refusals become their 4xx with a code and detail; Django validation errors 400."""
    if isinstance(exc, FlowboardError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response({"code": "invalid_input", **detail}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
