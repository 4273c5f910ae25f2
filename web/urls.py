"""The web board's routes, mounted at the site's root by ``flowboard.urls``."""

from django.urls import path

from web.views import boards, cards, dashboard

app_name = "web"

card = "boards/<slug:slug>/cards/<str:key>/"

urlpatterns = [
    path("", boards.home, name="home"),
    path("boards/", boards.board_list, name="boards"),
    path("boards/<slug:slug>/", boards.board, name="board"),
    path("boards/<slug:slug>/version", boards.board_version, name="board-version"),
    path(
        "boards/<slug:slug>/columns/<int:column_id>/cards",
        boards.column_more,
        name="column-more",
    ),
    path("boards/<slug:slug>/cards/new", cards.card_create, name="card-create"),
    path(card, cards.card_detail, name="card"),
    path(f"{card}move", cards.card_move, name="card-move"),
    path(f"{card}edit", cards.card_edit, name="card-edit"),
    path(f"{card}discard", cards.card_discard, name="card-discard"),
    path(f"{card}block", cards.card_block, name="card-block"),
    path(f"{card}unblock", cards.card_unblock, name="card-unblock"),
    path(f"{card}criteria/new", cards.criterion_add, name="criterion-add"),
    path(
        f"{card}criteria/<int:criterion_id>/<str:action>",
        cards.criterion_change,
        name="criterion-change",
    ),
    path("boards/<slug:slug>/dashboard/", dashboard.dashboard_page, name="dashboard"),
    path(
        "boards/<slug:slug>/dashboard/<str:chart>.<str:format>",
        dashboard.chart_data,
        name="chart",
    ),
]
