"""A submitted record, a finished review, a closed escalation and the audit log cannot be
changed by any path; the retention procedure is the one exception."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.models import AuditLogEntry
from escalations.models import Escalation
from supervision.immutability import RecordImmutable, retention_procedure
from supervision.models import AuditReview, AuditSample, AuditSampleItem
from supervision.records import effective_value, record_amend
from visits.models import VisitRecord

REFUSED = (RecordImmutable, DatabaseError)


def _refused(callable_):
    with pytest.raises(REFUSED):
        with transaction.atomic():
            callable_()


def _finished_review(record, supervisor):
    sample = AuditSample.objects.create(period_start="2026-10-01", period_end="2026-10-31", seed=1)
    item = AuditSampleItem.objects.create(sample=sample, record=record, agent=record.submitted_by)
    return AuditReview.objects.create(
        item=item,
        reviewer=supervisor,
        record_complete="yes",
        identity_stated="yes",
        script_followed="yes",
        reminders_given="yes",
        handled_in_time="yes",
        escalation_justified="yes",
        score=90,
        finished_at=timezone.now(),
    )


@pytest.mark.spec("6.immutable")
def test_it_refuses_changing_a_submitted_record_through_the_orm(record):
    record.feedback = "篡改"
    _refused(lambda: record.save())
    _refused(lambda: record.delete())
    assert VisitRecord.objects.get(pk=record.pk).feedback == "客户表示账户正常使用"


@pytest.mark.spec("6.immutable")
def test_it_refuses_changing_a_closed_escalation_and_keeps_open_ones_editable(closed_escalation):
    closed_escalation.result = "改写"
    _refused(lambda: closed_escalation.save())
    assert Escalation.objects.get(pk=closed_escalation.pk).result == ""


@pytest.mark.spec("6.immutable")
def test_it_refuses_changing_a_finished_review(record, supervisor):
    review = _finished_review(record, supervisor)
    review.score = 10
    _refused(lambda: review.save())
    assert AuditReview.objects.get(pk=review.pk).score == 90


@pytest.mark.spec("6.immutable")
def test_it_refuses_changing_or_deleting_audit_log_entries(supervisor):
    from core.audit import audit

    entry = audit("user.change", actor=supervisor)
    entry.action = "forged"
    _refused(lambda: entry.save())
    _refused(lambda: entry.delete())
    assert AuditLogEntry.objects.get(pk=entry.pk).action == "user.change"


@pytest.mark.spec("6.immutable")
def test_it_lets_only_the_retention_procedure_change_a_record(record):
    with retention_procedure():
        VisitRecord.objects.filter(pk=record.pk).update(feedback="")
        record.refresh_from_db()
    assert record.feedback == ""


@pytest.mark.spec("6.amendment")
def test_it_keeps_the_original_and_stores_a_correction_as_an_amendment(record, agent):
    amendment = record_amend(
        record=record, by=agent, field="satisfaction", new_value="4", reason="客户来电更正满意度"
    )
    record.refresh_from_db()
    assert record.satisfaction == 5  # the original is untouched
    assert (amendment.old_value, amendment.new_value) == ("5", "4")
    assert effective_value(record, "satisfaction") == "4"
    entry = AuditLogEntry.objects.filter(action="record.amend").get()
    assert entry.object_id == str(record.pk) and entry.before == {"satisfaction": "5"}


@pytest.mark.spec("6.amendment")
def test_it_refuses_an_amendment_without_reason_or_with_a_bad_value(record, agent):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as no_reason:
        record_amend(record=record, by=agent, field="feedback", new_value="x", reason=" ")
    assert "reason" in no_reason.value.message_dict
    with pytest.raises(ValidationError) as bad:
        record_amend(record=record, by=agent, field="satisfaction", new_value="9", reason="r")
    assert "new_value" in bad.value.message_dict
    with pytest.raises(ValidationError) as locked_field:
        record_amend(record=record, by=agent, field="submitted_by", new_value="1", reason="r")
    assert "field" in locked_field.value.message_dict
    assert not record.amendments.exists()


# --- PostgreSQL: the database itself refuses, whatever the path ---------------------------

PATHS = {
    "orm save": lambda r: (setattr(r, "feedback", "x"), r.save()),
    "orm update()": lambda r: VisitRecord.objects.filter(pk=r.pk).update(feedback="x"),
    "orm delete": lambda r: VisitRecord.objects.filter(pk=r.pk).delete(),
    "raw UPDATE": lambda r: connection.cursor().execute(
        "UPDATE visits_visitrecord SET feedback = 'x' WHERE id = %s", [r.pk]
    ),
    "raw DELETE": lambda r: connection.cursor().execute(
        "DELETE FROM visits_visitrecord WHERE id = %s", [r.pk]
    ),
}


@pytest.mark.postgres
@pytest.mark.spec("6.immutable")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", list(PATHS))
def test_it_refuses_every_path_to_change_a_record_on_postgres(record, path):
    with pytest.raises(DatabaseError, match="Cannot update or delete"):
        with transaction.atomic():
            PATHS[path](record)
    assert VisitRecord.objects.get(pk=record.pk).feedback == "客户表示账户正常使用"


@pytest.mark.postgres
@pytest.mark.spec("6.immutable")
@pytest.mark.django_db(transaction=True)
def test_it_refuses_raw_sql_on_reviews_escalations_and_the_audit_log(
    record, supervisor, closed_escalation
):
    from core.audit import audit

    review = _finished_review(record, supervisor)
    entry = audit("user.change", actor=supervisor)
    statements = [
        ("UPDATE supervision_auditreview SET score = 1 WHERE id = %s", review.pk),
        ("DELETE FROM supervision_auditreview WHERE id = %s", review.pk),
        ("UPDATE escalations_escalation SET result = 'x' WHERE id = %s", closed_escalation.pk),
        ("DELETE FROM escalations_escalation WHERE id = %s", closed_escalation.pk),
        ("UPDATE core_auditlogentry SET action = 'x' WHERE id = %s", entry.pk),
        ("DELETE FROM core_auditlogentry WHERE id = %s", entry.pk),
    ]
    for sql, pk in statements:
        with pytest.raises(DatabaseError, match="Cannot update or delete"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [pk])
    assert AuditReview.objects.get(pk=review.pk).score == 90
    assert AuditLogEntry.objects.get(pk=entry.pk).action == "user.change"


@pytest.mark.postgres
@pytest.mark.spec("6.immutable")
@pytest.mark.django_db(transaction=True)
def test_it_lets_open_escalations_change_on_postgres(closed_escalation):
    with retention_procedure():  # reopen for the test setup only
        Escalation.objects.filter(pk=closed_escalation.pk).update(status="replied")
    assert Escalation.objects.filter(pk=closed_escalation.pk).update(result="已回复") == 1
