"""The error pages render in the product's layout, in the user's language, with a way back,
even the 500 page, which Django renders without a request context."""

import pytest
from django.test import RequestFactory
from django.utils import translation
from django.views import defaults


@pytest.mark.parametrize(
    ("view", "status", "words"),
    [(defaults.bad_request, 400, "请求无法处理"), (defaults.server_error, 500, "系统出错了")],
)
def test_it_renders_the_page_without_a_request_context(view, status, words):
    request = RequestFactory().get("/visits/1/")
    response = view(request) if view is defaults.server_error else view(request, Exception())
    html = response.content.decode()
    assert response.status_code == status
    assert words in html and 'id="error-home"' in html and 'class="topbar"' in html


def test_it_speaks_the_users_language():
    request = RequestFactory().get("/")
    with translation.override("en"):
        html = defaults.server_error(request).content.decode()
    assert 'lang="en"' in html
