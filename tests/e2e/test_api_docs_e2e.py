"""The API's Swagger UI in a real browser: it loads from local files, lists the operations, and
a signed-in user can try one (their session and CSRF token are sent)."""

from playwright.sync_api import expect

from tests.factories import BoardFactory, MembershipFactory, UserFactory


def test_swagger_ui_lists_the_operations_and_runs_one(page, live_server, shot, transactional_db):
    board = BoardFactory(name="Payments", slug="pay")
    user = UserFactory(username="dana")
    user.set_password("a-long-password-1")
    user.save()
    MembershipFactory(board=board, user=user)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "a-long-password-1")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Flowboard API")
    expect(page.locator("#operations-items-items_move_create")).to_be_visible()
    boards = page.locator("#operations-boards-boards_list")
    boards.locator(".opblock-summary").click()
    boards.get_by_role("button", name="Try it out").click()
    boards.get_by_role("button", name="Execute").click()
    body = boards.locator(".responses-wrapper .live-responses-table .response-col_description pre")
    expect(body.first).to_contain_text('"slug": "pay"')
    shot(page, "api-docs", full_page=False)
    assert not errors, errors
