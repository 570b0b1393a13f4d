"""The API takes ASCII digits and exact decimal strings only: full-width or Arabic-Indic digits
and a trailing newline are a 400 naming the field, never normalised into a stored value."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AccountEvent, Customer
from accounts.validators import parse_amount, validate_mobile, validate_resident_id
from tests.factories import AccountFactory

from .conftest import customer_body, txn_event

pytestmark = [pytest.mark.django_db]

ARABIC_INDIC_MOBILE = "١٣٨٠٠١٣٨٠٠٠"  # 13800138000 in Arabic-Indic digits


@pytest.mark.parametrize("mobile", [ARABIC_INDIC_MOBILE, "１３８００１３８０００", "13800138000\n"])
def test_it_rejects_a_mobile_that_is_not_eleven_ascii_digits(api, branch, mobile):
    response = api.put("/api/v1/customers/C0001", customer_body(mobile=mobile), format="json")
    assert response.status_code == 400 and "mobile" in response.json()
    assert not Customer.objects.exists()


@pytest.mark.parametrize("amount", ["１００", "100\n", "١٠٠", "100.00\n", " 100"])
def test_it_rejects_an_amount_that_is_not_an_exact_decimal_string(api, branch, amount, frozen_now):
    account = AccountFactory()
    response = api.post(
        "/api/v1/events", txn_event("CB-X", account.number, amount=amount), format="json"
    )
    assert response.status_code == 400, response.content
    assert "amount" in response.json()["data"]
    assert not AccountEvent.objects.exists()


@pytest.mark.parametrize(
    "check,value",
    [
        (validate_mobile, "13800138000\n"),
        (validate_resident_id, "11010119900307451\u0665"),
        (parse_amount, "１００"),
        (parse_amount, "100\n"),
    ],
)
def test_the_shared_validators_refuse_non_ascii_digits_and_a_trailing_newline(check, value):
    with pytest.raises(ValidationError):
        check(value)


@pytest.mark.parametrize("name", ["account_number", "customer_external_id"])
def test_a_nul_in_a_visit_filter_is_a_400_naming_it(api, name):
    response = api.get("/api/v1/visits", {name: "6222\x00"})
    assert response.status_code == 400 and name in response.json()
