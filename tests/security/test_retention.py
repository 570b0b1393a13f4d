"""Retention and destruction: a table covering every model, a list approved by a second
person, irreversible anonymisation, a certificate kept forever, and legal holds."""

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from accounts.models import Account, Customer, Role
from accounts.services import staff_create
from core.audit import audit
from core.models import AuditLogEntry
from supervision.audit_chain import verify_chain
from supervision.immutability import retention_procedure
from supervision.models import DestructionCertificate, DestructionList, DestructionStatus
from supervision.retention import (
    RETENTION_RULES,
    destruction_list_approve,
    destruction_list_draft,
    destruction_list_execute,
)
from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from tests.fixtures import PASSWORD
from visits.models import VisitRecord
from workspace.models import RecordDraft
from workspace.tasks import record_drafts_purge_task

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.spec("6.retention")
def test_it_has_a_retention_rule_for_every_model_of_the_project():
    labels = {
        model._meta.label_lower
        for app in ("core", "accounts", "visits", "escalations", "workspace", "supervision")
        for model in apps.get_app_config(app).get_models()
    }
    assert labels - set(RETENTION_RULES) == set()
    assert set(RETENTION_RULES) - labels == set()  # no stale entries
    assert RETENTION_RULES["visits.visitrecord"].kind == "cdd"
    assert RETENTION_RULES["supervision.destructioncertificate"].kind == "forever"
    # Short windows of their own, each deleted by its job; roll-ups hold counts only.
    assert RETENTION_RULES["accounts.eventkey"].kind == "own_job"
    assert RETENTION_RULES["workspace.recorddraft"].kind == "own_job"
    assert RETENTION_RULES["supervision.visitdayrollup"].kind == "forever"
    assert RETENTION_RULES["supervision.rollupwatermark"].kind == "forever"


@pytest.mark.spec("6.retention", clause="八.3")
def test_it_deletes_drafts_of_closed_visits_and_those_untouched_for_30_days(agent, branch):
    now = dt.datetime(2026, 12, 31, 3, 45, tzinfo=SHANGHAI)
    open_visit = VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch)),
        status="in_progress",
        assigned_to=agent,
    )
    closed_visit = VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch)), status="completed"
    )
    data = {"r-feedback": ["客户说新号码是 13912345678"]}
    fresh = RecordDraft.objects.create(
        visit=open_visit, agent=agent, data=data, updated_at=now - dt.timedelta(days=30, seconds=-1)
    )
    of_closed = RecordDraft.objects.create(
        visit=closed_visit, agent=agent, data=data, updated_at=now
    )
    other_agent = staff_create(
        username="agent-b", password=PASSWORD, role=Role.AGENT, branches=[branch]
    )
    stale = RecordDraft.objects.create(
        visit=open_visit, agent=other_agent, data=data, updated_at=now - dt.timedelta(days=30)
    )
    with time_machine.travel(now, tick=False):
        assert record_drafts_purge_task.delay().get() == 2
    assert list(RecordDraft.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not RecordDraft.objects.filter(pk__in=[of_closed.pk, stale.pk]).exists()


@pytest.fixture
def ended_customer(record):
    customer = record.visit.account.customer
    Customer.objects.filter(pk=customer.pk).update(relationship_ended_on=dt.date(2014, 3, 1))
    return customer


@pytest.mark.spec("6.retention", clause=("三.4", "八.3"))
def test_it_keeps_records_for_ten_years_after_the_relationship_ends(record, supervisor):
    customer = record.visit.account.customer
    Customer.objects.filter(pk=customer.pk).update(relationship_ended_on=dt.date(2020, 1, 1))
    CustomerFactory(branch=customer.branch)  # no end date: kept
    drafted = destruction_list_draft(by=supervisor)
    assert drafted is None or not drafted.items.filter(object_type="accounts.customer").exists()


@pytest.mark.spec("6.retention")
def test_it_needs_a_second_person_to_approve(ended_customer, supervisor, other_supervisor):
    drafted = destruction_list_draft(by=supervisor)
    assert drafted.items.filter(object_id=str(ended_customer.pk)).exists()
    with pytest.raises(ValidationError):
        destruction_list_approve(destruction_list=drafted, by=supervisor)
    drafted.refresh_from_db()
    assert drafted.status == DestructionStatus.DRAFT
    with pytest.raises(ValidationError):
        destruction_list_execute(destruction_list=drafted, by=supervisor)  # not approved
    destruction_list_approve(destruction_list=drafted, by=other_supervisor)
    drafted.refresh_from_db()
    assert drafted.status == DestructionStatus.APPROVED and drafted.approved_by == other_supervisor


@pytest.mark.spec("6.retention")
def test_it_anonymises_irreversibly_and_writes_a_certificate(
    ended_customer, record, supervisor, other_supervisor
):
    drafted = destruction_list_draft(by=supervisor)
    destruction_list_approve(destruction_list=drafted, by=other_supervisor)
    certificate = destruction_list_execute(destruction_list=drafted, by=other_supervisor)

    customer = Customer.objects.get(pk=ended_customer.pk)
    assert customer.id_number == "" and customer.mobile == "" and customer.address == ""
    assert customer.id_number_hash == "" and customer.name == "（已销毁）"
    assert not Customer.objects.by_id_number("110101199003074514").filter(pk=customer.pk).exists()
    account = Account.objects.get(customer=customer)
    assert account.number.startswith("DESTROYED-")
    assert VisitRecord.objects.get(pk=record.pk).feedback == ""  # the row stays for statistics
    expected = hashlib.sha256(f"accounts.customer:{customer.pk}\n".encode())
    assert certificate.approved_by == other_supervisor
    assert certificate.summary["visits.visitrecord"] == 1
    if not certificate.summary.get("core.auditlogentry"):
        assert certificate.ids_sha256 == expected.hexdigest()
    assert DestructionList.objects.get(pk=drafted.pk).status == DestructionStatus.EXECUTED
    assert AuditLogEntry.objects.filter(action="destruction.execute").exists()
    # Nothing is drawn up twice.
    again = destruction_list_draft(by=supervisor)
    assert again is None or not again.items.filter(object_type="accounts.customer").exists()


@pytest.mark.spec("6.legal-hold")
def test_it_leaves_customers_under_legal_hold_out_of_the_list(ended_customer, supervisor):
    Account.objects.filter(customer=ended_customer).update(legal_hold=True)
    drafted = destruction_list_draft(by=supervisor)
    assert drafted is None or not drafted.items.filter(object_id=str(ended_customer.pk)).exists()


@pytest.mark.spec("6.legal-hold")
def test_it_skips_a_hold_placed_after_the_list_was_drawn_up(
    ended_customer, supervisor, other_supervisor
):
    drafted = destruction_list_draft(by=supervisor)
    destruction_list_approve(destruction_list=drafted, by=other_supervisor)
    Customer.objects.filter(pk=ended_customer.pk).update(legal_hold=True)
    certificate = destruction_list_execute(destruction_list=drafted, by=other_supervisor)
    assert certificate.summary["skipped_legal_hold"] == [ended_customer.pk]
    assert Customer.objects.get(pk=ended_customer.pk).id_number == "110101199003074514"


@pytest.mark.spec("6.retention")
def test_it_deletes_old_audit_entries_and_the_chain_still_verifies(
    supervisor, other_supervisor, time_machine
):
    time_machine.move_to(dt.datetime(2025, 1, 10, 10, tzinfo=dt.UTC))
    old = [audit("user.change", actor=supervisor) for _ in range(3)]
    time_machine.move_to(dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC))
    recent = audit("user.change", actor=supervisor)
    drafted = destruction_list_draft(by=supervisor)
    item = drafted.items.get(object_type="core.auditlogentry")
    assert int(item.object_id) >= old[-1].pk and int(item.object_id) < recent.pk
    destruction_list_approve(destruction_list=drafted, by=other_supervisor)
    certificate = destruction_list_execute(destruction_list=drafted, by=other_supervisor)
    assert not AuditLogEntry.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditLogEntry.objects.filter(pk=recent.pk).exists()
    assert certificate.chain_anchor
    assert verify_chain()[0], verify_chain()[2]


@pytest.mark.spec("6.retention")
def test_it_keeps_the_certificate_forever(ended_customer, supervisor, other_supervisor):
    drafted = destruction_list_draft(by=supervisor)
    destruction_list_approve(destruction_list=drafted, by=other_supervisor)
    certificate = destruction_list_execute(destruction_list=drafted, by=other_supervisor)
    if connection.vendor == "postgresql":
        from django.db import DatabaseError, transaction

        with pytest.raises(DatabaseError), transaction.atomic():
            DestructionCertificate.objects.filter(pk=certificate.pk).delete()
    assert DestructionCertificate.objects.filter(pk=certificate.pk).exists()


@pytest.mark.spec("6.retention")
def test_it_runs_the_procedure_from_the_pages(client, ended_customer, supervisor, other_supervisor):
    client.force_login(supervisor)
    response = client.post(reverse("records:destruction_lists"))
    drafted = DestructionList.objects.get()
    assert response.status_code == 302
    client.post(reverse("records:destruction_act", args=[drafted.pk, "approve"]))
    assert DestructionList.objects.get().status == DestructionStatus.DRAFT  # own list
    client.force_login(other_supervisor)
    client.post(reverse("records:destruction_act", args=[drafted.pk, "approve"]))
    client.post(reverse("records:destruction_act", args=[drafted.pk, "execute"]))
    page = client.get(reverse("records:destruction_detail", args=[drafted.pk]))
    assert page.status_code == 200 and page.context["certificate"] is not None
    assert (
        AccountFactory._meta.model.objects.filter(customer=ended_customer)
        .get()
        .number.startswith("DESTROYED-")
    )


@pytest.mark.spec("6.legal-hold", clause="八.3")
def test_a_legal_hold_keeps_the_audit_entries_about_the_held_customer(
    record, supervisor, other_supervisor, time_machine
):
    held = record.visit.account.customer
    Account.objects.filter(customer=held).update(legal_hold=True)  # an AML investigation
    time_machine.move_to(dt.datetime(2025, 1, 10, 10, tzinfo=dt.UTC))
    old = [
        audit("user.change", actor=supervisor),
        audit("pii.reveal", actor=supervisor, obj=held),
        audit("user.change", actor=supervisor),
        audit("visit.complete", actor=supervisor, obj=record.visit),
        audit("user.change", actor=supervisor),
    ]
    kept = [old[1], old[3]]
    # 2025-07-01 is six months and a day later: all five are past RETENTION_AUDIT_LOG_MONTHS.
    time_machine.move_to(dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC))
    recent = audit("user.change", actor=supervisor)
    drafted = destruction_list_draft(by=supervisor)
    item = drafted.items.get(object_type="core.auditlogentry")
    doomed_before = AuditLogEntry.objects.filter(pk__lte=int(item.object_id)).count()
    assert item.row_count == doomed_before - 2  # the held customer's two are not counted
    destruction_list_approve(destruction_list=drafted, by=other_supervisor)
    certificate = destruction_list_execute(destruction_list=drafted, by=other_supervisor)

    remaining = set(AuditLogEntry.objects.values_list("pk", flat=True))
    assert {e.pk for e in kept} <= remaining and recent.pk in remaining
    assert not remaining & {old[0].pk, old[2].pk, old[4].pk}
    assert certificate.summary["audit_log_kept_legal_hold"] == 2
    assert certificate.summary["core.auditlogentry"] == doomed_before - 2
    assert len(certificate.chain_jumps) == 3  # the start, the gap between the two, the end
    assert verify_chain()[0], verify_chain()[2]
    # The gap does not excuse a kept entry removed afterwards by someone able to get past the
    # database's protection (on PostgreSQL, what the procedure itself does).
    with retention_procedure(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditlogentry WHERE id = %s", [kept[0].pk])
    ok, broken_at, _why = verify_chain()
    assert not ok and broken_at == kept[1].pk


@pytest.mark.spec("6.retention", clause="八.3")
def test_a_list_drafted_by_the_system_needs_one_person_to_approve_and_another_to_execute(
    ended_customer, supervisor, other_supervisor
):
    drafted = destruction_list_draft()  # the monthly job: no author
    assert drafted.created_by is None
    destruction_list_approve(destruction_list=drafted, by=supervisor)
    with pytest.raises(ValidationError) as exc:
        destruction_list_execute(destruction_list=drafted, by=supervisor)
    assert exc.value.code == "same_person"
    with pytest.raises(ValidationError):
        destruction_list_execute(destruction_list=drafted, by=None)  # nobody named
    with pytest.raises(CommandError):
        call_command("destruction_execute", str(drafted.pk))
    assert DestructionList.objects.get(pk=drafted.pk).status == DestructionStatus.APPROVED
    assert Customer.objects.get(pk=ended_customer.pk).id_number == "110101199003074514"
    certificate = destruction_list_execute(destruction_list=drafted, by=other_supervisor)
    assert (certificate.approved_by, certificate.executed_by) == (supervisor, other_supervisor)


@pytest.mark.spec("6.retention", clause="八.3")
def test_the_pages_offer_a_system_list_to_a_second_person_only(
    client, ended_customer, supervisor, other_supervisor
):
    drafted = destruction_list_draft()
    detail = reverse("records:destruction_detail", args=[drafted.pk])
    execute = reverse("records:destruction_act", args=[drafted.pk, "execute"])
    client.force_login(supervisor)
    assert (
        client.get(reverse("records:destruction_lists")).context["page"].object_list[0] == drafted
    )
    client.post(reverse("records:destruction_act", args=[drafted.pk, "approve"]))
    page = client.get(detail).content.decode()
    assert 'id="second-person"' in page and execute not in page
    client.post(execute)
    assert DestructionList.objects.get(pk=drafted.pk).status == DestructionStatus.APPROVED
    client.force_login(other_supervisor)
    assert execute in client.get(detail).content.decode()
    client.post(execute)
    assert DestructionList.objects.get(pk=drafted.pk).status == DestructionStatus.EXECUTED
