"""Cursor pagination on every list: stable under inserts (a sync that pages through items while
others are created never skips or repeats one), by id. A cursor that was not made by this API
is refused by rule (422) naming it, not a 404; a page size out of range is a 400."""

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

from flowboard import validation
from flowboard.errors import InvalidInput


class Cursor(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            cursor = False
        position = cursor.position if cursor else None
        if cursor is False or not (position is None or self.is_position(position)):
            # DRF checks the encoding and the offset; the position (an id here) is ours.
            raise InvalidInput(
                "Not a cursor of this list: follow the next and previous links.",
                field=self.cursor_query_param,
            )
        return cursor

    def is_position(self, position: str) -> bool:
        """Whether a cursor's position can be a value of the ordering's first field (an id
        here); a forged one would otherwise reach the query and fail there."""
        return validation.is_id(position)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            if parameter["name"] == self.cursor_query_param:
                parameter["schema"]["pattern"] = r"^[A-Za-z0-9_=-]+$"  # URL-safe base64
        return parameters

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (validation.is_id(raw) and int(raw) <= self.max_page_size):
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return super().get_page_size(request)
