"""The Transition log is append-only: not through the ORM, the admin, or plain SQL."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from boards.models import Transition
from boards.services import work_item_move
from tests.factories import UserFactory, WorkItemFactory


@pytest.fixture
def row(board, col):
    item = WorkItemFactory(board=board)
    return work_item_move(item, col["Build"], actor=None, source="api").transition


def test_saving_an_existing_row_is_refused(row):
    row.source = "web"
    with pytest.raises(TypeError, match="append-only"):
        row.save()


def test_deleting_a_row_is_refused(row):
    with pytest.raises(TypeError, match="append-only"):
        row.delete()
    assert Transition.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(
    "operation",
    [
        lambda qs: qs.update(source="web"),
        lambda qs: qs.delete(),
        lambda qs: Transition.objects.bulk_update(list(qs), ["source"]),
    ],
    ids=["update", "delete", "bulk_update"],
)
def test_queryset_writes_are_refused(row, operation):
    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        operation(Transition.objects.filter(pk=row.pk))
    assert Transition.objects.get(pk=row.pk).source == "api"


def test_the_database_refuses_an_update_below_the_orm(row):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE boards_transition SET source = 'web' WHERE id = %s", [row.pk])
    assert Transition.objects.get(pk=row.pk).source == "api"


def test_the_database_refuses_a_delete_below_the_orm(row):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM boards_transition WHERE id = %s", [row.pk])
    assert Transition.objects.filter(pk=row.pk).exists()


def test_the_base_manager_refuses_deletes_too(row):
    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        Transition._base_manager.filter(pk=row.pk).delete()
    assert Transition.objects.filter(pk=row.pk).exists()


def test_maintenance_lets_an_operator_script_delete_history(row):
    from boards import history

    with transaction.atomic(), history.maintenance(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM boards_transition WHERE id = %s", [row.pk])
    assert not Transition.objects.filter(pk=row.pk).exists()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM boards_transition")  # the guard is back


def test_the_admin_shows_the_log_but_cannot_change_or_delete_it(client, row):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    assert client.get(reverse("admin:boards_transition_changelist")).status_code == 200
    change = client.post(
        reverse("admin:boards_transition_change", args=[row.pk]), {"source": "web"}
    )
    delete = client.post(reverse("admin:boards_transition_delete", args=[row.pk]), {"post": "yes"})
    assert change.status_code == 403
    assert delete.status_code == 403
    assert client.get(reverse("admin:boards_transition_add")).status_code == 403
    assert Transition.objects.get(pk=row.pk).source == "api"
