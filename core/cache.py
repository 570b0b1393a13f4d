"""The Redis cache, tolerant of a Redis outage.

The cache only ever holds what can be recomputed (API throttle counters, the visit counts of
/metrics). When Redis cannot be reached, reads miss and writes are dropped, with a warning in
the log, instead of failing the request: the REST API keeps recording events while Redis is
down (docs/DEPLOYMENT.md, fault test 2). Throttling is off for that time.
"""

import functools
import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _tolerant(fallback):
    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as exc:
                logger.warning(
                    "cache unavailable (%s): %s skipped", exc.__class__.__name__, method.__name__
                )
                return fallback(*args, **kwargs) if callable(fallback) else fallback

        return run

    return wrap


def _default(key, default=None, *args, **kwargs):
    return default


class ResilientRedisCache(RedisCache):
    get = _tolerant(_default)(RedisCache.get)
    get_many = _tolerant({})(RedisCache.get_many)
    has_key = _tolerant(False)(RedisCache.has_key)
    set = _tolerant(None)(RedisCache.set)
    set_many = _tolerant([])(RedisCache.set_many)
    # add() is used as "first one wins": with Redis away nobody wins, which is the safe answer.
    add = _tolerant(False)(RedisCache.add)
    touch = _tolerant(False)(RedisCache.touch)
    delete = _tolerant(False)(RedisCache.delete)
    delete_many = _tolerant(None)(RedisCache.delete_many)
