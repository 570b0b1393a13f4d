"""Validators for customer and account data, shared by the REST API, forms and the teller page.

Each raises ``django.core.exceptions.ValidationError`` (DRF turns it into a 400 naming the field,
forms show it next to the field)."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# ASCII digits only ([0-9], never \d, which also takes "１" or "٣") and \Z, never $, which
# lets a trailing newline through.
MOBILE_RE = re.compile(r"^1[0-9]{10}\Z")
# Area code (3-4 digits starting with 0), a dash, 7-8 digits, optional extension.
LANDLINE_RE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?\Z")
RESIDENT_ID_RE = re.compile(r"^[0-9]{17}[0-9X]\Z")
AMOUNT_RE = re.compile(r"^[0-9]{1,16}(\.[0-9]{1,2})?\Z")
CURRENCY_RE = re.compile(r"^[A-Z]{3}\Z")

# GB 11643-1999: weights of the first 17 digits, and the check character for each remainder.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def validate_resident_id(value: str) -> None:
    """An 18-character mainland resident ID: digits, a real birth date, the GB 11643 check digit."""
    value = (value or "").upper()
    if not RESIDENT_ID_RE.match(value):
        raise ValidationError(_("居民身份证号码应为18位（末位可为X）。"), code="format")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("居民身份证号码中的出生日期无效。"), code="birth_date") from None
    if birth.year < 1900 or birth > dt.date.today():
        raise ValidationError(_("居民身份证号码中的出生日期无效。"), code="birth_date")
    if resident_id_check_char(value[:17]) != value[17]:
        raise ValidationError(_("居民身份证号码校验位错误。"), code="check_digit")


def validate_mobile(value: str) -> None:
    """A mainland mobile number: 11 digits starting with 1."""
    if not MOBILE_RE.match(value or ""):
        raise ValidationError(_("手机号码应为以1开头的11位数字。"), code="mobile")


def validate_landline(value: str) -> None:
    if not LANDLINE_RE.match(value or ""):
        raise ValidationError(
            _("固定电话格式应为“区号-号码”，例如 010-12345678。"), code="landline"
        )


def validate_id_number(id_type: str, id_number: str) -> None:
    """The check that depends on the document type: full check for resident IDs, a sane
    shape (letters, digits and dashes, 5 to 30 characters) for the others."""
    if id_type == "resident_id":
        validate_resident_id(id_number)
    elif not re.match(r"^[A-Za-z0-9-]{5,30}\Z", id_number or ""):
        raise ValidationError(_("证件号码格式无效。"), code="id_number")


def parse_amount(value) -> Decimal:
    """A money amount as a decimal string with at most 2 places, greater than zero."""
    if not isinstance(value, str) or not AMOUNT_RE.match(value):
        raise ValidationError(
            _('金额应为最多两位小数的十进制字符串，例如 "50000.00"。'), code="amount"
        )
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValidationError(_("金额无效。"), code="amount") from None
    if amount <= 0:
        raise ValidationError(_("金额必须大于零。"), code="amount")
    return amount


def validate_currency(value: str) -> None:
    if not CURRENCY_RE.match(value or ""):
        raise ValidationError(_("币种应为3位大写字母代码，例如 CNY。"), code="currency")
