"""Typed access to the project's own settings (``settings.CALLBACK``).

``settings.CALLBACK`` is one dict of mixed values (times, counts, rates, paths), which a type
checker can only see as ``object``. Modules read it through these accessors instead: each
names the type it expects and refuses a value of another type at once (a mis-set environment
variable shows as a clear ``ImproperlyConfigured``, not as a comparison error deep in a job).
Every call reads the live settings, so ``override_settings`` and tests that edit the dict
count at once.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_MISSING: Any = object()


def callback_value(key: str, default: Any = _MISSING) -> Any:
    """The raw value of ``CALLBACK[key]`` (``default`` when absent and one is given)."""
    values = settings.CALLBACK
    if key in values:
        return values[key]
    if default is _MISSING:
        raise ImproperlyConfigured(f"CALLBACK[{key!r}] is not set.")
    return default


def _typed(key: str, kind: type[T], default: Any) -> T:
    value = callback_value(key, default)
    # bool is an int subclass: a flag is never accepted where a count is expected.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ImproperlyConfigured(
            f"CALLBACK[{key!r}] must be {kind.__name__}, not {type(value).__name__}."
        )
    return value


def callback_int(key: str, default: int | Any = _MISSING) -> int:
    return _typed(key, int, default)


def callback_time(key: str, default: time | Any = _MISSING) -> time:
    return _typed(key, time, default)


def callback_str(key: str, default: str | Any = _MISSING) -> str:
    return _typed(key, str, default)


def callback_bool(key: str, default: bool | Any = _MISSING) -> bool:
    return _typed(key, bool, default)


def callback_decimal(key: str, default: Decimal | Any = _MISSING) -> Decimal:
    """A rate or a factor: a Decimal, or an int, float or numeric string read as its text."""
    value = callback_value(key, default)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            pass
    raise ImproperlyConfigured(f"CALLBACK[{key!r}] must be a number, not {value!r}.")


def callback_dict(key: str, default: dict[str, Any] | Any = _MISSING) -> dict[str, Any]:
    return _typed(key, dict, default)
