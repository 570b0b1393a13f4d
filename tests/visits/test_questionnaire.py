"""Online questionnaire: signed, expiring, single-use link; masked public page; answers become
the record; an answer that needs action goes to a named member of staff."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from core.models import AuditLogEntry, Notification
from escalations.models import Escalation
from tests.factories import AccountEventFactory
from visits.models import Visit, VisitRecord, VisitTrigger
from workspace.channels.questionnaire import InviteError, invite_create, questionnaire_submit
from workspace.models import QuestionnaireInvite, QuestionnaireQuestion

from .workspace_helpers import CALL_TIME, SHANGHAI, ensure_seed_data, open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("3.online", clause="五.3")]


@pytest.fixture(autouse=True)
def _seed_data(db):
    ensure_seed_data()


GOOD = {"info_correct": "yes", "txn_recognised": "yes", "channel_ok": "yes",
        "satisfaction": "5", "comment": "很好"}  # fmt: skip


def test_the_default_questions_are_seeded():
    codes = list(QuestionnaireQuestion.objects.filter(kind="").values_list("code", flat=True))
    assert codes == ["info_correct", "txn_recognised", "channel_ok", "satisfaction", "comment"]
    marked = QuestionnaireQuestion.objects.filter(denies_transactions=True)
    assert list(marked.values_list("code", "action_if")) == [("txn_recognised", "no")]


def test_the_public_page_shows_only_masked_data_without_login(client, account):
    visit = open_visit(account.branch, account=account)
    with time_machine.travel(CALL_TIME, tick=False):
        invite, url = invite_create(visit)
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "138****8000" in html and account.masked_number in html and "张*" in html
    for secret in ("13800138000", account.number, "110101199003074514", "张伟", "东长安街"):
        assert secret not in html
    assert QuestionnaireInvite.objects.get().expires_at == CALL_TIME + dt.timedelta(days=7)
    visit.refresh_from_db()
    assert visit.channel == "online"
    assert visit.attempts.filter(outcome="online_sent").count() == 1


def test_it_reuses_the_open_invite_when_asked_twice(account):
    visit = open_visit(account.branch, account=account)
    first, _ = invite_create(visit)
    second, _ = invite_create(visit)
    assert first.pk == second.pk and QuestionnaireInvite.objects.count() == 1


def test_answers_become_the_record_and_the_link_is_single_use(client, agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    with time_machine.travel(CALL_TIME, tick=False):
        invite, url = invite_create(visit)
        response = client.post(url, GOOD)
        assert response.status_code == 200 and "感谢" in response.content.decode()
        again = client.post(url, {**GOOD, "satisfaction": "1"})
        assert again.status_code == 410
        assert client.get(url).status_code == 410
    visit.refresh_from_db()
    assert visit.status == "completed"
    record = VisitRecord.objects.get(visit=visit)
    assert (record.channel, record.satisfaction, record.feedback) == ("online", 5, "很好")
    assert record.answers["info_correct"] == "yes" and record.answers["_needs_action"] == []
    invite.refresh_from_db()
    assert invite.used_at == CALL_TIME and invite.assigned_to is None
    with pytest.raises(InviteError):
        questionnaire_submit(invite=invite, answers=GOOD)


def test_a_missing_answer_is_shown_next_to_the_question(client, account):
    visit = open_visit(account.branch, account=account)
    invite, url = invite_create(visit)
    response = client.post(url, {**GOOD, "satisfaction": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["satisfaction"]
    invite.refresh_from_db()
    assert invite.used_at is None


def test_the_link_expires(client, account, settings):
    visit = open_visit(account.branch, account=account)
    with time_machine.travel(CALL_TIME, tick=False):
        _, url = invite_create(visit)
    with time_machine.travel(CALL_TIME + dt.timedelta(days=6, hours=23), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(CALL_TIME + dt.timedelta(days=7, minutes=1), tick=False):
        response = client.get(url)
        assert response.status_code == 410 and "过期" in response.content.decode()
        assert client.post(url, GOOD).status_code == 410
    assert not VisitRecord.objects.exists()


def test_a_forged_or_altered_token_is_refused(client, account):
    visit = open_visit(account.branch, account=account)
    invite, url = invite_create(visit)
    token = url.rstrip("/").rsplit("/", 1)[1]
    forged = reverse("public:questionnaire", args=[invite.nonce + ":abc:def"])
    assert client.get(forged).status_code == 410
    assert client.get(reverse("public:questionnaire", args=[token[:-2] + "xx"])).status_code == 410


def test_an_answer_that_needs_action_is_assigned_to_the_agent(client, agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    invite, url = invite_create(visit)
    client.post(url, {**GOOD, "txn_recognised": "no", "satisfaction": "2"})
    invite.refresh_from_db()
    assert invite.assigned_to == agent
    record = VisitRecord.objects.get(visit=visit)
    assert record.answers["_needs_action"] == ["txn_recognised", "satisfaction"]
    note = Notification.objects.get(user=agent)
    assert note.link == reverse("workspace:call_screen", args=[visit.pk])


def test_without_an_agent_the_branch_supervisor_gets_it(client, supervisor, account, other_branch):
    from accounts.models import Role
    from accounts.services import staff_create
    from tests.fixtures import PASSWORD

    staff_create(username="sh-super", password=PASSWORD, role=Role.SUPERVISOR,
                 branches=[other_branch])  # fmt: skip
    visit = open_visit(account.branch, account=account)
    invite, url = invite_create(visit)
    client.post(url, {**GOOD, "info_correct": "no"})
    invite.refresh_from_db()
    assert invite.assigned_to == supervisor
    assert Notification.objects.filter(user=supervisor).count() == 1


# --- "Not my transactions" online: a suspected fraud, as on the phone ------------------------


@pytest.mark.spec("4.online-fraud", clause=("五.3", "九.2"))
def test_an_online_not_my_transactions_goes_to_security_as_urgent(client, agent, account):
    transfer = AccountEventFactory(
        account=account,
        amount="90000.00",
        currency="CNY",
        flagged=True,
        occurred_at=dt.datetime(2026, 11, 30, 23, 10, tzinfo=SHANGHAI),
    )
    visit = open_visit(account.branch, agent=agent, account=account, kind="special_event")
    VisitTrigger.objects.create(visit=visit, event=transfer)
    with time_machine.travel(CALL_TIME, tick=False):
        invite, url = invite_create(visit)
        assert client.post(url, {**GOOD, "txn_recognised": "no"}).status_code == 200
    record = VisitRecord.objects.get(visit=visit)
    escalation = Escalation.objects.get()
    assert escalation.department.code == "security" and escalation.urgency == "urgent"
    assert escalation.record == record and escalation.visit == visit
    assert escalation.opened_by is None  # the customer's own channel
    assert "2026-11-30 23:10 90000.00 CNY" in escalation.description
    # Urgent: 4 working hours from Tuesday 2026-12-01 10:00 (a working day).
    assert escalation.deadline_at == dt.datetime(2026, 12, 1, 14, 0, tzinfo=SHANGHAI)
    assert Visit.objects.get(pk=visit.pk).status == "completed"
    entry = AuditLogEntry.objects.get(action="visit.complete", object_id=str(visit.pk))
    assert entry.after["suspected_fraud"] == escalation.pk


@pytest.mark.spec("4.online-fraud", clause=("五.3", "九.2"))
def test_an_online_yes_to_the_transactions_question_raises_nothing(agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    invite, _url = invite_create(visit)
    questionnaire_submit(invite=invite, answers={**GOOD, "info_correct": "no"})
    assert not Escalation.objects.exists()  # another answer needing action is no fraud


@pytest.mark.spec("4.online-fraud", clause=("五.3", "九.2"))
def test_a_visit_listing_no_transaction_still_escalates_the_denial(account, settings):
    settings.CALLBACK = {**settings.CALLBACK, "SECURITY_DEPARTMENT_CODE": "anti_fraud"}
    visit = open_visit(account.branch, account=account, kind="periodic")
    invite, _url = invite_create(visit)
    with time_machine.travel(CALL_TIME, tick=False):
        record = questionnaire_submit(invite=invite, answers={**GOOD, "txn_recognised": "no"})
    escalation = Escalation.objects.get()
    assert escalation.department.code == "anti_fraud"  # the setting, made if missing
    assert escalation.record == record and "请核查近期全部交易" in escalation.description
