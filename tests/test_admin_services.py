"""The admin as an ops lead uses it: every edit goes through a service, and a bad one is a clear
form error or a refusal with its reason, never a half-saved object or a 500."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from boards.models import Column, WorkItem
from boards.services import work_item_update
from flowboard.errors import InvalidInput
from readiness import services as readiness_services
from readiness.models import AcceptanceCriterion, CriterionTemplate
from tests.factories import BoardFactory, CriterionTemplateFactory, UserFactory, WorkItemFactory


@pytest.fixture
def ops(client, ops_lead):
    ops_lead.is_staff = ops_lead.is_superuser = True
    ops_lead.save()
    client.force_login(ops_lead)
    return client


def item_form(item, **changes):
    data = {
        "board": item.board_id,
        "title": item.title,
        "description": item.description,
        "kind": item.kind,
        "class_of_service": item.class_of_service,
        "due_date": "",
        "external_source": item.external_source,
        "external_key": item.external_key,
        "external_url": item.external_url,
        "move_to": item.column_id,
        "discard_with_reason": "",
        "expected_version": item.version,
    }
    data.update(changes)
    return data


def board_form(board, columns, commitment, delivery):
    """The board's change form: ``columns`` is [(column or None, position, name)]."""
    data = {
        "name": board.name,
        "slug": board.slug,
        "key_prefix": board.key_prefix,
        "time_zone": board.time_zone,
        "commitment": commitment,
        "delivery": delivery,
        "columns-TOTAL_FORMS": len(columns),
        "columns-INITIAL_FORMS": sum(1 for c, _, _ in columns if c is not None),
        "columns-MIN_NUM_FORMS": 0,
        "columns-MAX_NUM_FORMS": 1000,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    for n, (column, position, name) in enumerate(columns):
        data.update(
            {
                f"columns-{n}-id": column.pk if column else "",
                f"columns-{n}-board": board.pk,
                f"columns-{n}-position": position,
                f"columns-{n}-name": name,
                f"columns-{n}-stage": column.stage if column else "development",
                f"columns-{n}-activity": column.activity if column else "active",
                f"columns-{n}-wip_limit": (column.wip_limit or "") if column else "",
                f"columns-{n}-wip_policy": column.wip_policy if column else "soft",
            }
        )
    return data


def test_changing_a_kind_in_the_admin_applies_the_new_kinds_criteria(ops, board):
    CriterionTemplateFactory(board=board, title="Release notes", applies_to_kinds=["feature"])
    defect = WorkItemFactory(board=board, kind="defect")
    assert not defect.criteria.exists()

    url = reverse("admin:boards_workitem_change", args=[defect.pk])
    response = ops.post(url, item_form(defect, kind="feature"))

    assert response.status_code == 302
    defect.refresh_from_db()
    assert defect.kind == "feature" and defect.version == 2
    assert list(defect.criteria.values_list("title", flat=True)) == ["Release notes"]


def test_an_edit_on_a_stale_page_is_refused_and_nothing_is_saved(ops, board):
    item = WorkItemFactory(board=board, title="Old")
    page = item_form(item, title="Mine")
    work_item_update(item, actor=None, title="Theirs")  # someone else, meanwhile

    response = ops.post(reverse("admin:boards_workitem_change", args=[item.pk]), page, follow=True)

    assert "Nothing was saved" in response.content.decode()
    assert "changed by someone else" in response.content.decode()
    item.refresh_from_db()
    assert item.title == "Theirs"


def test_a_move_refused_in_the_admin_rolls_back_the_edit_too(ops, board, col):
    Column.objects.filter(pk=col["Ready"].pk).update(wip_limit=1, wip_policy="hard")
    WorkItemFactory(board=board).column = col["Ready"]
    other = WorkItemFactory(board=board)
    from boards.services import work_item_move

    work_item_move(WorkItem.objects.exclude(pk=other.pk).get(), col["Ready"], actor=None,
                   source="api")  # fmt: skip
    response = ops.post(
        reverse("admin:boards_workitem_change", args=[other.pk]),
        item_form(other, title="Renamed", move_to=col["Ready"].pk),
        follow=True,
    )

    assert "Ready is at its WIP limit of 1" in response.content.decode()
    other.refresh_from_db()
    assert (other.title, other.column_id) != ("Renamed", col["Ready"].pk)
    assert other.title != "Renamed"


def test_items_are_discarded_not_deleted(ops, board):
    item = WorkItemFactory(board=board)
    delete = reverse("admin:boards_workitem_delete", args=[item.pk])
    assert ops.post(delete, {"post": "yes"}).status_code == 403
    ops.post(
        reverse("admin:boards_workitem_change", args=[item.pk]),
        item_form(item, discard_with_reason="Duplicate of FB-2"),
    )
    item.refresh_from_db()
    assert item.discard_reason == "Duplicate of FB-2" and item.discarded_at is not None


TEMPLATE = {
    "title": "Privacy notice updated",
    "description": "",
    "category": "readiness",
    "track": "legal",
    "required": "on",
    "active": "on",
    "position": 0,
}


def test_a_template_guarding_another_boards_column_is_a_form_error(ops, board):
    elsewhere = BoardFactory().columns.get(name="Done")
    response = ops.post(
        reverse("admin:readiness_criteriontemplate_add"),
        {**TEMPLATE, "board": board.pk, "gate_column": elsewhere.pk},
    )
    assert response.status_code == 200
    assert f"The gate column must be a column of {board.name}" in response.content.decode()
    assert not CriterionTemplate.objects.exists()


def test_a_template_is_created_through_the_service_with_clean_kinds(ops, board, col):
    response = ops.post(
        reverse("admin:readiness_criteriontemplate_add"),
        {**TEMPLATE, "board": board.pk, "gate_column": col["Done"].pk,
         "applies_to_kinds": ["feature", "risk"]},
    )  # fmt: skip
    assert response.status_code == 302
    assert CriterionTemplate.objects.get().applies_to_kinds == ["feature", "risk"]


def test_an_unknown_kind_is_a_form_error(ops, board, col):
    response = ops.post(
        reverse("admin:readiness_criteriontemplate_add"),
        {**TEMPLATE, "board": board.pk, "gate_column": col["Done"].pk, "applies_to_kinds": "epic"},
    )
    assert response.status_code == 200 and "epic is not one of the available choices" in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("kinds", "stored"),
    [(["Feature"], ["feature"]), (["DEFECT", "feature"], ["feature", "defect"]), ([], [])],
)
def test_template_kinds_are_normalised_in_any_case(board, col, kinds, stored):
    template = readiness_services.template_create(
        board, title="t", track="legal", gate_column=col["Done"], applies_to_kinds=kinds
    )
    assert template.applies_to_kinds == stored
    feature = WorkItemFactory(board=board, kind="feature")
    assert feature.criteria.exists() == (not stored or "feature" in stored)


@pytest.mark.parametrize("kinds", [5, "feature", ["epic"], [1]], ids=str)
def test_template_kinds_that_are_not_a_list_of_kinds_are_refused(board, col, kinds):
    with pytest.raises(InvalidInput, match="kind"):
        readiness_services.template_create(
            board, title="t", track="legal", gate_column=col["Done"], applies_to_kinds=kinds
        )


def test_the_migration_cleans_kinds_stored_before(board, col):
    bad = CriterionTemplate.objects.create(
        board=board, title="a", track="legal", gate_column=col["Done"], applies_to_kinds=5
    )
    cased = CriterionTemplate.objects.create(
        board=board, title="b", track="legal", gate_column=col["Done"], applies_to_kinds=["Feature"]
    )
    migration = importlib.import_module("readiness.migrations.0002_history_rows")
    migration.clean_kinds(apps, None)
    bad.refresh_from_db()
    cased.refresh_from_db()
    assert (bad.applies_to_kinds, bad.active) == ([], False)
    assert (cased.applies_to_kinds, cased.active) == (["feature"], True)
    WorkItemFactory(board=board)  # creations work again


def test_criteria_cannot_be_deleted_but_can_be_retired_with_a_reason(ops, board):
    CriterionTemplateFactory(board=board, title="Support macro ready")
    criterion = WorkItemFactory(board=board).criteria.get()
    delete = reverse("admin:readiness_acceptancecriterion_delete", args=[criterion.pk])
    assert ops.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:readiness_acceptancecriterion_changelist")
    action = {"action": "retire", "_selected_action": [criterion.pk]}

    asked = ops.post(changelist, action)
    assert "Retire criteria" in asked.content.decode()
    done = ops.post(changelist, {**action, "reason": "Macro replaced by the help centre"})

    assert done.status_code == 302
    criterion.refresh_from_db()
    assert criterion.status == AcceptanceCriterion.Status.WAIVED
    assert criterion.waiver_reason == "Macro replaced by the help centre"
    assert criterion.changes.get().reason == "Macro replaced by the help centre"


def test_reordering_columns_past_the_delivery_point_is_a_form_error(ops, board):
    columns = list(board.columns.order_by("position"))
    # Ready (the commitment) moved after Done (the delivery).
    rows = [(c, {"Ready": 9}.get(c.name, c.position), c.name) for c in columns]
    url = reverse("admin:boards_board_change", args=[board.pk])

    response = ops.post(url, board_form(board, rows, "Ready", "Done"))

    assert response.status_code == 200
    assert "The delivery column (Done) must come after the commitment column (Ready)" in (
        response.content.decode()
    )
    assert board.columns.get(name="Ready").position == 1


def test_swapping_two_columns_goes_through_the_setup_service(
    ops, board, django_capture_on_commit_callbacks
):
    columns = list(board.columns.order_by("position"))
    swap = {"Build": 3, "Review": 2}
    rows = [(c, swap.get(c.name, c.position), c.name) for c in columns]
    rows.append((None, 7, "Sunset"))
    url = reverse("admin:boards_board_change", args=[board.pk])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = ops.post(url, board_form(board, rows, "Ready", "Done"))

    assert response.status_code == 302
    order = list(board.columns.order_by("position").values_list("name", flat=True))
    assert order == ["Backlog", "Ready", "Review", "Build", "Readiness", "Done", "Operating",
                     "Sunset"]  # fmt: skip
    assert callbacks, "the board's metrics recompute is queued"


def test_a_column_with_history_cannot_be_deleted(ops, board):
    columns = list(board.columns.order_by("position"))
    WorkItemFactory(board=board)  # created in Backlog: in the log
    data = board_form(board, [(c, c.position, c.name) for c in columns], "Ready", "Done")
    data["columns-0-DELETE"] = "on"

    response = ops.post(reverse("admin:boards_board_change", args=[board.pk]), data)

    assert response.status_code == 200
    assert "Deleting column Backlog would require deleting the following protected" in (
        response.content.decode()
    )
    assert board.columns.count() == 7


def test_a_board_is_created_with_its_columns_in_the_admin(ops):
    data = board_form(
        type("B", (), {"name": "Ops", "slug": "ops", "key_prefix": "OPS", "time_zone": "UTC",
                       "pk": ""})(),
        [(None, 0, "Triage"), (None, 1, "Doing"), (None, 2, "Done")],
        "doing",
        "Done",
    )  # fmt: skip
    response = ops.post(reverse("admin:boards_board_add"), data)
    assert response.status_code == 302
    from boards.models import Board

    board = Board.objects.get(slug="ops")
    assert (board.commitment_column.name, board.delivery_column.name) == ("Doing", "Done")
    assert UserFactory  # the factory module is used by fixtures above
