import pytest

from tests.factories import user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_login_shows_console_with_role(page, login, org):
    user("billing_clerk", org_unit=org["GZ"], username="clerk")
    login("clerk")
    assert page.get_by_test_id("current-user").inner_text().startswith("clerk")


def test_wrong_password_stays_on_login_with_message(page, login, org):
    user("billing_clerk", org_unit=org["GZ"], username="clerk")
    login("clerk", password="wrong")
    assert "/login/" in page.url
    assert page.locator(".alert-danger").is_visible()
