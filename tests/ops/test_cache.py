"""With Redis unreachable the cache misses instead of failing the request."""

import time

import pytest

from core.cache import ResilientRedisCache

pytestmark = pytest.mark.spec("9.redis-outage")


@pytest.fixture
def unreachable_cache():
    # Nothing listens on port 1.
    return ResilientRedisCache(
        "redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    )


def test_it_misses_and_drops_writes_while_redis_is_away(unreachable_cache):
    started = time.monotonic()
    assert unreachable_cache.get("throttle_key", "fallback") == "fallback"
    assert unreachable_cache.get_many(["a", "b"]) == {}
    assert unreachable_cache.set("throttle_key", [1, 2], 60) is None
    assert unreachable_cache.add("lock", 1) is False
    assert unreachable_cache.has_key("lock") is False
    assert unreachable_cache.delete("lock") is False
    assert time.monotonic() - started < 10


def test_it_still_raises_for_counters_that_cannot_be_recomputed(unreachable_cache):
    with pytest.raises(Exception):  # noqa: B017 - any error: incr has no safe fallback
        unreachable_cache.incr("counter")


@pytest.mark.redis
def test_it_works_as_the_plain_redis_cache_when_redis_is_there():
    import os

    cache = ResilientRedisCache(os.environ["REDIS_URL"], {})
    cache.set("ops-test-key", {"n": 1}, 30)
    try:
        assert cache.get("ops-test-key") == {"n": 1}
        assert cache.add("ops-test-key", 2) is False
    finally:
        cache.delete("ops-test-key")
