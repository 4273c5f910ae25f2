"""factory_boy factories. Items are made through the services, so each has its creation
Transition and its acceptance criteria, exactly as in real use."""

import factory
from django.contrib.auth import get_user_model

from boards import services, setup
from boards.models import Board, BoardMembership, Column, Transition, WorkItem
from readiness.models import CriterionTemplate, Track

S, A = Column.Stage, Column.Activity

# The standard test board: positions 0..6, commitment Ready (1), delivery Done (5).
STANDARD_COLUMNS = [
    setup.ColumnSpec("Backlog", S.UPSTREAM, A.WAITING),
    setup.ColumnSpec("Ready", S.DEVELOPMENT, A.WAITING),
    setup.ColumnSpec("Build", S.DEVELOPMENT, A.ACTIVE),
    setup.ColumnSpec("Review", S.DEVELOPMENT, A.WAITING),
    setup.ColumnSpec("Readiness", S.READINESS, A.ACTIVE),
    setup.ColumnSpec("Done", S.DONE, A.ACTIVE),
    setup.ColumnSpec("Operating", S.DONE, A.ACTIVE),
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class BoardFactory(factory.Factory):
    """A board made by ``boards.setup.board_create``."""

    class Meta:
        model = Board

    name = factory.Sequence(lambda n: f"Board {n}")
    slug = factory.Sequence(lambda n: f"board-{n}")
    key_prefix = "FB"
    columns = STANDARD_COLUMNS
    commitment = "Ready"
    delivery = "Done"
    time_zone = "UTC"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return setup.board_create(**kwargs)


class WorkItemFactory(factory.Factory):
    """An item made by ``boards.services.work_item_create``."""

    class Meta:
        model = WorkItem

    board = factory.SubFactory(BoardFactory)
    title = factory.Sequence(lambda n: f"Item {n}")
    kind = WorkItem.Kind.FEATURE
    actor = None
    source = Transition.Source.API

    @classmethod
    def _create(cls, model_class, board, **kwargs):
        return services.work_item_create(board, **kwargs)


class CriterionTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CriterionTemplate

    board = factory.SubFactory(BoardFactory)
    title = factory.Sequence(lambda n: f"Criterion {n}")
    track = Track.SUPPORT
    gate_column = factory.LazyAttribute(lambda t: t.board.delivery_column)
    required = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BoardMembership

    board = factory.SubFactory(BoardFactory)
    user = factory.SubFactory(UserFactory)
    role = BoardMembership.Role.MEMBER
