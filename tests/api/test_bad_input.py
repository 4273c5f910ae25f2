"""Bad input gets a precise 4xx in the one error shape, and nothing is written."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from boards.models import Transition, WorkItem
from tests.api.conftest import item_url, items_url
from tests.factories import WorkItemFactory

pytestmark = pytest.mark.django_db


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"]
    return body


def test_malformed_json(api, board):
    response = api.generic(
        "POST", items_url(board), '{"title": "Oops",', content_type="application/json"
    )
    body = assert_problem(response, 400, "parse_error")
    assert "JSON parse error" in body["detail"]


@pytest.mark.parametrize("body", ["[]", '"a title"', "null", "42"])
def test_a_body_that_is_not_an_object(api, board, body):
    response = api.generic("POST", items_url(board), body, content_type="application/json")
    body = assert_problem(response, 400, "invalid_input")
    assert body["errors"]["non_field_errors"] == ["The body must be a JSON object."]


def test_wrong_content_type_is_415(api, board):
    response = api.generic(
        "POST", items_url(board), "title=Form", content_type="application/x-www-form-urlencoded"
    )
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "application/x-www-form-urlencoded" in body["detail"]


def test_a_huge_body_is_413_before_it_is_read(api, board, settings):
    settings.API_MAX_BODY_BYTES = 10_000
    body = json.dumps({"title": "x", "description": "y" * 20_000})
    response = api.generic("POST", items_url(board), body, content_type="application/json")
    body = assert_problem(response, 413, "too_large")
    assert body["limit"] == 10_000
    assert not WorkItem.objects.exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("colour", "red", "Unknown field."),
        ("column", "Build", "column cannot be written: the column changes only through POST"),
        ("board", "other", "board cannot be written: an item never changes board."),
        ("created_at", "2024-01-01T00:00:00Z", "created_at cannot be written: the creation"),
        ("version", 9, "version cannot be written: the version is sent in the If-Match"),
    ],
)
def test_unknown_and_read_only_fields_are_refused_by_name(api, board, field, value, message):
    item = WorkItemFactory(board=board)
    response = api.patch(item_url(item), {"title": "New", field: value}, format="json")
    body = assert_problem(response, 400, "invalid_input")
    assert body["errors"][field][0].startswith(message)
    item.refresh_from_db()
    assert item.title != "New" and item.version == 1


@pytest.mark.parametrize(
    "at, status, words",
    [
        ("0001-01-01T00:00:00Z", 400, "A time from 1970 to 2999."),
        ("0001-01-01T00:00:00+05:00", 400, "A time from 1970 to 2999."),
        ("1899-12-31T23:59:59Z", 400, "A time from 1970 to 2999."),
        ("9999-12-31T23:59:59-05:00", 400, "A time from 1970 to 2999."),
        ("2999-01-01T00:00:00Z", 422, "cannot be dated in the future"),
        ("2026-02-30T10:00:00Z", 400, "Datetime has wrong format"),
        ("2026-01-01T10:00:00", 400, "Give the time with its offset"),
        ("tomorrow", 400, "Datetime has wrong format"),
    ],
)
def test_far_past_and_future_dates(api, board, at, status, words):
    item = WorkItemFactory(board=board)
    moved = api.post(item_url(item, "move"), {"to_column": "Build", "at": at}, format="json")
    assert moved.status_code == status, moved.content
    assert words in json.dumps(moved.json())
    created = api.post(items_url(board), {"title": "Old", "created_at": at}, format="json")
    assert created.status_code == status, created.content
    assert Transition.objects.count() == 1


@pytest.mark.parametrize("due", ["0001-01-01", "9999-12-31", "2026-13-01"])
def test_due_dates_out_of_range(api, board, due):
    response = api.post(items_url(board), {"title": "x", "due_date": due}, format="json")
    assert_problem(response, 400, "invalid_input")


def test_unicode_is_kept_and_control_characters_refused(api, board):
    title = "Zahlungsabgleich für 日本 🚀 — «ok» \u200d"
    created = api.post(items_url(board), {"title": title}, format="json")
    assert created.status_code == 201
    assert WorkItem.objects.get().title == title.strip()
    for bad in ("nul\x00byte", "bell\x07", "escape\x1b[31m"):
        response = api.post(items_url(board), {"title": bad}, format="json")
        body = assert_problem(response, 400, "invalid_input")
        assert "title" in body["errors"]
    lone = api.generic(
        "POST", items_url(board), b'{"title": "\\ud800"}', content_type="application/json"
    )
    assert lone.status_code == 400
    assert WorkItem.objects.count() == 1


@pytest.mark.parametrize(
    "field, value",
    [("title", ""), ("title", "x" * 301), ("kind", "epic"), ("external_url", "javascript:x"),
     ("title", 12), ("title", None), ("due_date", 20270101)],
)  # fmt: skip
def test_each_bad_field_is_named(api, board, field, value):
    body = {"title": "A title", field: value}
    response = api.post(items_url(board), body, format="json")
    body = assert_problem(response, 400, "invalid_input")
    assert field in body["errors"]


def test_unknown_paths_and_methods_answer_in_json(api):
    missing = api.get("/api/v1/nothing-here/")
    assert_problem(missing, 404, "not_found")
    wrong = api.delete("/api/v1/boards/")
    assert_problem(wrong, 405, "method_not_allowed")
    html = api.get("/api/v1/boards/", HTTP_ACCEPT="text/csv")
    assert_problem(html, 406, "not_acceptable")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_path_is_json_with_debug_on_too(api, board, settings, debug):
    settings.DEBUG = debug
    missing = assert_problem(api.get("/api/v1/hooks/github/no-such-hook/x/"), 404, "not_found")
    assert missing["detail"] == "No API endpoint at /api/v1/hooks/github/no-such-hook/x/."
    # A POST missing its final slash is not redirected (its body would be lost): it is told.
    body = assert_problem(
        api.post(items_url(board).rstrip("/"), {}, format="json"), 404, "not_found"
    )
    assert body["detail"].endswith(f"Paths end with a slash: {items_url(board)}")


def test_an_unknown_api_path_is_404_not_a_csrf_refusal():
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    response = client.patch("/api/v1/boards/no%5Csuch/", {"name": "x"}, format="json")
    assert_problem(response, 404, "not_found")


def test_query_parameters_with_control_characters_are_400(api, board):
    response = api.get(items_url(board, "?column=Bu%1Fild"))
    body = assert_problem(response, 400, "invalid_input")
    assert "control character (U+001F)" in body["errors"]["column"][0]


@pytest.mark.parametrize("query", ["?kind=", "?cursor=", "?blocked="])
def test_empty_query_parameters_are_400(api, board, query):
    body = assert_problem(api.get(items_url(board, query)), 400, "invalid_input")
    assert "is empty; give a value or leave the parameter out" in body["detail"]


def test_offsets_postgresql_would_refuse_are_taken_as_utc(api, board):
    """Python accepts offsets up to 23:59; PostgreSQL only to 15:59. Times are stored in UTC."""
    item = WorkItemFactory(board=board)
    past = (timezone.now() - dt.timedelta(hours=30)).replace(microsecond=0)
    at = past.astimezone(dt.timezone(dt.timedelta(hours=22, minutes=9))).isoformat()
    moved = api.post(item_url(item, "move"), {"to_column": "Build", "at": at}, format="json")
    assert moved.status_code == 422  # 30 hours ago is before the item was created: a rule
    created = api.post(items_url(board), {"title": "Old", "created_at": at}, format="json")
    assert created.status_code == 201, created.content
    assert WorkItem.objects.get(title="Old").created_at == past
    since = api.get(f"/api/v1/boards/{board.slug}/transitions/", {"since": at})
    assert since.status_code == 200
    assert {t["item"]["key"] for t in since.json()["results"]} == {item.key, created.json()["key"]}
