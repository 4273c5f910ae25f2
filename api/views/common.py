"""Helpers the API views share: validated input, and the ETag and If-Match of an item."""

from rest_framework import exceptions
from rest_framework.generics import GenericAPIView

from boards.models import WorkItem
from flowboard.api import refuse_unknown_query


class ApiView(GenericAPIView):
    """Base of the API's views: query parameters are the filters, the pages of a list
    (``listing``) and ``query_params``; any other is refused by name."""

    listing = False
    filterset_class = None
    query_params: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        allowed = set(self.query_params)
        if self.filterset_class is not None:
            allowed |= set(self.filterset_class.base_filters)
        if self.listing and self.paginator is not None:
            allowed |= {self.paginator.cursor_query_param, self.paginator.page_size_query_param}
        refuse_unknown_query(request, allowed)


def valid(serializer_class, data, **context) -> dict:
    """The validated data, or a 400 listing each bad field (``flowboard.api``)."""
    if data is None:
        raise exceptions.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def etag(item: WorkItem) -> str:
    return f'"{item.version}"'


class PreconditionFailed(exceptions.APIException):
    status_code = 412
    default_code = "precondition_failed"


def expected_version(request, item: WorkItem) -> int | None:
    """The version the caller edits, from ``If-Match`` (an ETag of this API). A stale one is a
    412: someone else changed the item since the caller read it."""
    version = if_match_version(request)
    if version is not None and version != item.version:
        raise PreconditionFailed(
            f"{item.key} changed since you read it (your version {version}, now "
            f"{item.version}); read it again and retry."
        )
    return version


def if_match_version(request) -> int | None:
    """The version named by ``If-Match``, not yet compared (None: no header, or ``*``); a
    header that names none is a 400. The service compares it under the item's lock, where a
    stale one is a ``StaleVersion`` (412 in the API)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    for tag in tags:
        value = tag.removeprefix("W/").strip('"')
        if value.isascii() and value.isdigit():
            return int(value)
    raise exceptions.ValidationError({"If-Match": ['Give the item\'s ETag, e.g. "3".']})
