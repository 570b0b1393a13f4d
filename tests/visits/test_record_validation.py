"""Reported contact data is checked before the record is accepted, with the error at the field
and a summary at the top linking to it."""

import pytest
import time_machine
from django.urls import reverse

from visits.models import VisitRecord
from workspace.services import attempt_log

from .workspace_helpers import CALL_TIME, RECORD_OK, open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("2.record", clause=("三.1", "四.1"))]


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


@pytest.fixture
def reached(agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    attempt_log(visit=visit, agent=agent, outcome="reached")
    return visit


def _post(client, visit, **changes):
    return client.post(reverse("workspace:record", args=[visit.pk]), {**RECORD_OK, **changes})


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"r-mobile_status": "changed", "r-mobile_new": "abc123"}, "mobile_new", "11 位"),
        ({"r-mobile_status": "changed", "r-mobile_new": ""}, "mobile_new", "请填写"),
        ({"r-email_status": "changed", "r-email_new": "not-an-email"}, "email_new", "有效的电子邮箱"),
        ({"r-landline_status": "changed", "r-landline_new": "12"}, "landline_new", "区号"),
        ({"r-address_status": "changed", "r-address_new": "  "}, "address_new", "请填写"),
        ({"r-id_expiry_checked": "on"}, "id_expiry_reported", "有效期"),
        ({"r-mobile_new": "13912345678"}, "mobile_new", "有变更"),
    ],
)  # fmt: skip
def test_it_refuses_reported_data_that_is_not_what_it_claims(
    client, agent, reached, changes, field, words
):
    client.force_login(agent)
    response = _post(client, reached, **changes)
    assert response.status_code == 400
    errors = response.context["record_form"].errors
    assert list(errors) == [field] and words in errors[field][0]
    html = response.content.decode()
    summary = html[html.index('id="error-summary"') :][:1500]
    assert f'href="#field-r-{field}"' in summary and words in summary
    assert not VisitRecord.objects.exists()


def test_it_keeps_a_valid_reported_mobile_in_its_plain_form(client, agent, reached):
    client.force_login(agent)
    response = _post(
        client, reached, **{"r-mobile_status": "changed", "r-mobile_new": "+86 139-1234-5678"}
    )
    assert response.status_code == 302
    record = VisitRecord.objects.get(visit=reached)
    assert record.reported_changes["mobile"].startswith("139")
    assert "5678" in record.reported_changes["mobile"]
