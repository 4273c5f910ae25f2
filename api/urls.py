"""The API's routes, mounted at ``/api/v1/`` by ``flowboard.urls`` (the metrics routes beside
them come from ``metrics.urls``)."""

from django.urls import path

from api.views import boards, items, readiness
from integrations import hooks

app_name = "api"

urlpatterns = [
    path("boards/", boards.BoardList.as_view(), name="boards"),
    path("boards/<slug:slug>/", boards.BoardDetail.as_view(), name="board"),
    path("boards/<slug:slug>/items/", items.ItemList.as_view(), name="items"),
    path(
        "boards/<slug:slug>/items/by-key/<str:source>/<path:key>/",
        items.ItemUpsertByKey.as_view(),
        name="item-by-key",
    ),
    path("boards/<slug:slug>/transitions/", boards.TransitionList.as_view(), name="transitions"),
    path("items/<int:item_id>/", items.ItemDetail.as_view(), name="item"),
    path("items/<int:item_id>/move/", items.ItemMove.as_view(), name="item-move"),
    path("items/<int:item_id>/discard/", items.ItemDiscard.as_view(), name="item-discard"),
    path("items/<int:item_id>/criteria/", readiness.CriterionList.as_view(), name="criteria"),
    path("items/<int:item_id>/blocks/", readiness.BlockList.as_view(), name="blocks"),
    path("items/<int:item_id>/blocks/close/", readiness.BlockClose.as_view(), name="block-close"),
    path(
        "criteria/<int:criterion_id>/meet/",
        readiness.CriterionMeet.as_view(),
        name="criterion-meet",
    ),
    path(
        "criteria/<int:criterion_id>/waive/",
        readiness.CriterionWaive.as_view(),
        name="criterion-waive",
    ),
    path(
        "criteria/<int:criterion_id>/reopen/",
        readiness.CriterionReopen.as_view(),
        name="criterion-reopen",
    ),
    path("hooks/<str:kind>/<uuid:public_id>/", hooks.receive, name="hook"),
]
