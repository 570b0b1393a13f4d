"""Reviews of sampled records (SPEC §8): checklist, score, findings -> corrective actions the
agent acknowledges; progress; a finished review is final."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.models import AuditLogEntry
from supervision.exports import EXPORTS
from supervision.models import AuditReview, AuditSample, CorrectiveAction, SampleStatus
from supervision.reviews import corrective_action_acknowledge, review_submit
from supervision.sampling import sample_draw

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db, pytest.mark.spec("8.review", clause="十.1")]

CHECKS = {
    "record_complete": "yes",
    "identity_stated": "yes",
    "script_followed": "no",
    "reminders_given": "yes",
    "handled_in_time": "yes",
    "escalation_justified": "no",
}


@pytest.fixture
def sample(branch, agent, supervisor):
    for day in (3, 4):
        make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, day))
    return sample_draw(
        period_start=dt.date(2026, 10, 1),
        period_end=dt.date(2026, 10, 31),
        rate="1",
        seed=11,
        by=supervisor,
    )


def test_it_turns_a_finding_into_a_corrective_action(sample, supervisor, agent):
    item = sample.items.order_by("pk").first()
    review = review_submit(
        item=item, reviewer=supervisor, checklist=CHECKS, score=70, findings="未按话术表明身份"
    )
    assert review.finished_at is not None and review.script_followed == "no"
    action = CorrectiveAction.objects.get(review=review)
    assert action.agent == agent and action.description == "未按话术表明身份"
    assert action.due_on > dt.date.today() - dt.timedelta(days=1)
    assert AuditLogEntry.objects.filter(action="review.submit", object_id=str(review.pk)).exists()


def test_it_creates_no_action_without_findings(sample, supervisor):
    item = sample.items.order_by("pk").first()
    review_submit(item=item, reviewer=supervisor, checklist=CHECKS, score=95, findings="  ")
    assert not CorrectiveAction.objects.exists()


def test_it_refuses_a_second_review_of_the_same_record(sample, supervisor):
    item = sample.items.order_by("pk").first()
    review_submit(item=item, reviewer=supervisor, checklist=CHECKS, score=80)
    with pytest.raises(ValidationError):
        review_submit(item=item, reviewer=supervisor, checklist=CHECKS, score=10, findings="x")
    assert AuditReview.objects.get(item=item).score == 80
    assert not CorrectiveAction.objects.exists()


def test_it_refuses_a_review_of_ones_own_record(sample, agent):
    item = sample.items.order_by("pk").first()
    with pytest.raises(ValidationError):
        review_submit(item=item, reviewer=agent, checklist=CHECKS, score=100)


def test_it_finishes_the_sample_when_every_item_is_reviewed(sample, supervisor):
    items = list(sample.items.order_by("pk"))
    review_submit(item=items[0], reviewer=supervisor, checklist=CHECKS, score=90)
    sample.refresh_from_db()
    assert sample.status == SampleStatus.OPEN
    review_submit(item=items[1], reviewer=supervisor, checklist=CHECKS, score=90)
    sample.refresh_from_db()
    assert sample.status == SampleStatus.FINISHED


def test_the_agent_acknowledges_once(sample, supervisor, agent, other_agent):
    item = sample.items.order_by("pk").first()
    review = review_submit(item=item, reviewer=supervisor, checklist=CHECKS, score=60, findings="x")
    action = review.actions.get()
    with pytest.raises(ValidationError):
        corrective_action_acknowledge(action=action, by=other_agent)
    assert corrective_action_acknowledge(action=action, by=agent) is True
    first = CorrectiveAction.objects.get(pk=action.pk).acknowledged_at
    assert first is not None
    assert corrective_action_acknowledge(action=action, by=agent) is False
    assert CorrectiveAction.objects.get(pk=action.pk).acknowledged_at == first


def test_the_pages_show_progress_and_take_a_review(client, sample, supervisor, agent):
    client.force_login(supervisor)
    response = client.get(reverse("supervision:sample", args=[sample.pk]))
    assert response.status_code == 200
    assert "0 / 2" in response.content.decode()
    item = sample.items.order_by("pk").first()
    url = reverse("supervision:review", args=[item.pk])
    # Bad input: an error next to the field, nothing saved.
    response = client.post(url, {"score": "150", **CHECKS})
    assert response.status_code == 200 and "score" in response.context["form"].errors
    assert not AuditReview.objects.exists()
    response = client.post(
        url,
        {"score": "75", "findings": "安全提示不完整", **CHECKS},
    )
    assert response.status_code == 302
    assert AuditReview.objects.get(item=item).identity_stated == "yes"
    response = client.get(reverse("supervision:sample", args=[sample.pk]))
    assert "1 / 2" in response.content.decode()
    # A second POST is refused and changes nothing.
    client.post(url, {"score": "5"})
    assert AuditReview.objects.get(item=item).score == 75

    client.force_login(agent)
    response = client.get(reverse("supervision:my_actions"))
    assert "安全提示不完整" in response.content.decode()
    action = CorrectiveAction.objects.get()
    client.post(reverse("supervision:action_acknowledge", args=[action.pk]))
    action.refresh_from_db()
    assert action.acknowledged_at is not None


def test_the_sample_pages_are_the_supervisors_alone(client, sample, agent, supervisor, branch):
    from accounts.models import Role
    from accounts.services import staff_create
    from tests.fixtures import PASSWORD

    client.force_login(agent)
    assert client.get(reverse("supervision:samples")).status_code == 403
    other = staff_create(
        username="super9", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )
    client.force_login(other)
    assert client.get(reverse("supervision:sample", args=[sample.pk])).status_code == 404
    item = sample.items.first()
    assert client.get(reverse("supervision:review", args=[item.pk])).status_code == 404


def test_the_draw_form_draws_and_verifies(client, branch, agent, supervisor):
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3))
    client.force_login(supervisor)
    response = client.post(
        reverse("supervision:samples"),
        {
            "period_start": "2026-10-01",
            "period_end": "2026-10-31",
            "rate_percent": "5",
            "seed": "42",
        },
    )
    assert response.status_code == 302
    sample = AuditSample.objects.get()
    assert sample.seed == 42 and sample.items.count() == 1
    response = client.get(reverse("supervision:sample", args=[sample.pk]) + "?verify=1")
    assert 'id="verified"' in response.content.decode() and "badge ok" in response.content.decode()
    response = client.post(
        reverse("supervision:samples"),
        {"period_start": "2026-10-31", "period_end": "2026-10-01", "rate_percent": "5"},
    )
    assert response.status_code == 200 and "period_end" in response.context["form"].errors


# --- The checklist's three answers -----------------------------------------------------------

FORM_ANSWERS = {
    "record_complete": "yes",
    "identity_stated": "unassessed",
    "script_followed": "no",
    "reminders_given": "yes",
    "handled_in_time": "na",
}


def test_it_tells_no_from_not_assessed(client, sample, supervisor):
    item = sample.items.order_by("pk").first()
    url = reverse("supervision:review", args=[item.pk])
    client.force_login(supervisor)
    response = client.post(url, {"score": "80", **FORM_ANSWERS})
    assert response.status_code == 302
    review = AuditReview.objects.get(item=item)
    assert (review.identity_stated, review.script_followed, review.handled_in_time) == (
        "unassessed",
        "no",
        "na",
    )
    page = client.get(url).content.decode()
    checks = page[page.index('id="review-checks"') :]
    assert "表明身份: 未评估" in checks and "遵循话术: 否" in checks
    assert "问题及时处理: 不适用" in checks and "转办合理: 不适用" in checks


def test_it_skips_the_escalation_item_for_a_record_without_escalation(client, sample, supervisor):
    item = sample.items.order_by("pk").first()
    url = reverse("supervision:review", args=[item.pk])
    client.force_login(supervisor)
    form = client.get(url).context["form"]
    assert "escalation_justified" not in form.fields
    assert list(form.fields["identity_stated"].choices) == [
        ("yes", "是"),
        ("no", "否"),
        ("unassessed", "未评估"),
    ]
    # Whatever is sent about it, the item is recorded as not applicable.
    review = review_submit(
        item=item, reviewer=supervisor, checklist={**CHECKS, "escalation_justified": "no"}, score=90
    )
    assert review.escalation_justified == "na"


def test_it_asks_the_escalation_item_for_a_record_that_escalated(client, branch, agent, supervisor):
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3), handling="escalated")
    sample = sample_draw(
        period_start=dt.date(2026, 10, 1),
        period_end=dt.date(2026, 10, 31),
        rate="1",
        seed=3,
        by=supervisor,
    )
    item = sample.items.get()
    url = reverse("supervision:review", args=[item.pk])
    client.force_login(supervisor)
    assert "escalation_justified" in client.get(url).context["form"].fields
    # Unanswered, or answered "not applicable" although it applies: refused, nothing saved.
    response = client.post(url, {"score": "80", **FORM_ANSWERS})
    assert "escalation_justified" in response.context["form"].errors
    with pytest.raises(ValidationError) as refused:
        review_submit(
            item=item,
            reviewer=supervisor,
            checklist={**FORM_ANSWERS, "escalation_justified": "na"},
            score=80,
        )
    assert "escalation_justified" in refused.value.message_dict
    assert not AuditReview.objects.exists()
    response = client.post(url, {"score": "80", **FORM_ANSWERS, "escalation_justified": "no"})
    assert response.status_code == 302
    assert AuditReview.objects.get(item=item).escalation_justified == "no"


def test_it_refuses_an_answer_the_item_does_not_offer(sample, supervisor):
    item = sample.items.order_by("pk").first()
    for wrong in ({**CHECKS, "record_complete": "na"}, {**CHECKS, "handled_in_time": None}):
        with pytest.raises(ValidationError):
            review_submit(item=item, reviewer=supervisor, checklist=wrong, score=80)
    assert not AuditReview.objects.exists()


def test_the_export_shows_the_answers_labels(sample, supervisor):
    item = sample.items.order_by("pk").first()
    review_submit(item=item, reviewer=supervisor, checklist=FORM_ANSWERS, score=80)
    columns = {c.field: c for c in EXPORTS["reviews"].columns if isinstance(c.field, str)}
    assert columns["identity_stated"].present("unassessed") == "未评估"
    assert columns["escalation_justified"].present("na") == "不适用"
