"""A customer answers the online questionnaire on a phone-sized screen; the link then stops
working."""

import pytest

from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from tests.visits.workspace_helpers import ensure_seed_data
from visits.models import VisitRecord
from workspace.channels.questionnaire import invite_create

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.spec("3.online")
def test_a_customer_completes_the_questionnaire_once(live_server, pw_page, branch):
    page = pw_page
    page.set_viewport_size({"width": 390, "height": 844})
    account = AccountFactory(customer=CustomerFactory(branch=branch))
    visit = VisitFactory(account=account)
    ensure_seed_data()  # an earlier transactional test may have flushed the seeded questions
    _, path = invite_create(visit)

    page.goto(live_server.url + path)
    text = page.locator("main").inner_text()
    assert "138****8000" in text and account.masked_number in text
    assert "13800138000" not in page.content() and account.number not in page.content()

    page.check("#q-info_correct input[value='yes']")
    page.check("#q-txn_recognised input[value='yes']")
    page.check("#q-channel_ok input[value='yes']")
    page.check("#q-satisfaction input[value='5']")
    page.fill("#q-comment textarea", "服务很好")
    page.click("#questionnaire-submit")
    page.locator("#done").wait_for()

    record = VisitRecord.objects.get(visit=visit)
    assert (record.channel, record.satisfaction, record.feedback) == ("online", 5, "服务很好")

    response = page.goto(live_server.url + path)
    assert response.status == 410
    assert page.locator("#invalid").is_visible()
