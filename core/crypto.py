"""Personal data at rest (PIPL, JR/T 0171 class C2): encrypted columns and blind indexes.

Values are encrypted with Fernet (AES-128-CBC + HMAC); ``FIELD_ENCRYPTION_KEYS`` lists keys
newest first, so rotation is: prepend a key, re-save the rows (``rotate_field_keys``), drop the
old key. Exact lookups use a keyed hash (HMAC-SHA256) of the normalised value, the blind index.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache
from types import SimpleNamespace

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

_PREFIX = "enc1:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        # Embedded default only: a key derived from SECRET_KEY (production refuses to start
        # without FIELD_ENCRYPTION_KEYS, see settings).
        derived = base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest())
        keys = (derived.decode(),)
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return _PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        return stored
    try:
        return fernet().decrypt(stored[len(_PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("encrypted value cannot be decrypted with the configured keys") from exc


def rotate(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        return encrypt(stored)
    return _PREFIX + fernet().rotate(stored[len(_PREFIX) :].encode()).decode()


def normalise(value: str) -> str:
    return "".join(value.split()).upper()


def blind_index(value: str) -> str:
    key = (settings.BLIND_INDEX_KEY or settings.SECRET_KEY).encode()
    return hmac.new(key, normalise(value).encode(), hashlib.sha256).hexdigest()


def blind_indexes(values) -> dict[str, str]:
    """Blind index of each value (one key lookup for all): for filtering a batch with
    ``<field>_index__in=`` in one query, then mapping the rows back to the values."""
    keyed = hmac.new((settings.BLIND_INDEX_KEY or settings.SECRET_KEY).encode(), None, "sha256")
    out = {}
    for value in values:
        mac = keyed.copy()  # the key's inner and outer pads worked out once, not per value
        mac.update(normalise(value).encode())
        out[value] = mac.hexdigest()
    return out


class EncryptedTextField(models.TextField):
    """A text column that never holds plaintext in the database."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        if value.startswith(_PREFIX):
            return value
        return encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None  # ciphertext is randomised and cannot be searched: use the blind index
        return super().get_lookup(lookup_name)


class BlindIndexField(models.CharField):
    """HMAC of another field's value, computed whenever the row is saved."""

    def __init__(self, *args, source: str = "", **kwargs):
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["db_index"] = self.db_index  # False is not this field's default
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        raw = getattr(model_instance, self.source)
        value = blind_index(raw) if raw else ""
        setattr(model_instance, self.attname, value)
        return value


class MaskedCopyField(models.CharField):
    """A masked copy of another (encrypted) field, computed whenever the row is saved, so that
    lists and exports show the masked value without decrypting anything."""

    def __init__(self, *args, source: str = "", mask: Callable[[str], str] | None = None, **kwargs):
        self.source = source
        self.mask = mask
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["mask"] = self.mask
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        raw = getattr(model_instance, self.source)
        value = self.mask(raw) if raw and self.mask else ""
        setattr(model_instance, self.attname, value)
        return value


def stored_columns(model, **plain) -> dict[str, str]:
    """What the ORM would store for the personal values ``plain`` (by field name) of a row of
    ``model``: each encrypted column's ciphertext, and every blind index and masked copy made
    from them, by column name. For code that writes rows with raw SQL or COPY (benchmarks)."""
    row = SimpleNamespace(**plain)
    columns = {}
    for field in model._meta.concrete_fields:
        if isinstance(field, EncryptedTextField) and field.name in plain:
            columns[field.column] = field.get_prep_value(plain[field.name])
        elif isinstance(field, BlindIndexField | MaskedCopyField) and field.source in plain:
            columns[field.column] = field.pre_save(row, True)
    return columns
