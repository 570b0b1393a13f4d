import os
import pytest


@pytest.mark.postgres
def test_pg():
    from django.db import connection
    assert connection.vendor == "postgresql"


@pytest.mark.redis
def test_redis():
    import redis
    assert redis.Redis.from_url(os.environ["REDIS_URL"]).ping()


@pytest.mark.browser
def test_browser(pw_page):
    pw_page.set_content("<p>你好</p>")
    assert pw_page.inner_text("p") == "你好"
    assert pw_page.evaluate("navigator.language") == "zh-CN"


@pytest.mark.spec("3.sms")
def test_plain_marked():
    pass


def test_plain():
    pass


def test_skips_itself():
    pytest.skip("no reason")
