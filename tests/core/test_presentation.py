"""The presentation layer: codes, booleans, durations and people in the bank's own words."""

import datetime as dt

import pytest

from core import presentation
from core.audit import audit
from core.audit_actions import AuditAction
from core.models import AuditLogEntry


def test_it_writes_durations_in_hours_and_minutes():
    assert (
        presentation.duration_text(dt.timedelta(hours=1, minutes=23, seconds=49)) == "1 小时 23 分"
    )
    assert presentation.duration_text(dt.timedelta(minutes=5)) == "5 分"
    assert presentation.duration_text(dt.timedelta(seconds=83.822586)) == "1 分"
    assert presentation.duration_text(dt.timedelta(seconds=12)) == "12 秒"
    assert presentation.duration_text(dt.timedelta(days=2, hours=3)) == "2 天 3 小时"
    assert presentation.duration_text(None) == "-"


def test_it_writes_booleans_and_codes_as_words():
    assert (presentation.yes_no(True), presentation.yes_no(False)) == ("是", "否")
    assert presentation.choice_label("visits.Visit", "status", "in_progress") == "进行中"
    assert presentation.choice_label("visits.VisitRecord", "handling", "escalated") == "转办"
    assert presentation.term("mobile", "contact_item") == "手机号码"
    assert presentation.terms(["atm", "online"], "usage_channel") == "自助设备、网上银行"


@pytest.mark.django_db
def test_it_tells_an_audit_entry_as_a_sentence_with_a_field_by_field_diff(agent, account):
    from tests.factories import VisitFactory

    visit = VisitFactory(account=account)
    audit(
        AuditAction.VISIT_ATTEMPT,
        actor=agent,
        obj=visit,
        before={"status": "assigned"},
        after={"status": "in_progress", "outcome": "no_answer", "channel": "phone"},
    )
    entry = AuditLogEntry.objects.select_related("actor").latest("pk")
    sentence = presentation.audit_sentence(entry, str(AuditAction.VISIT_ATTEMPT.label))
    assert sentence == f"{presentation.person_name(agent)} 记录联系尝试 回访 #{visit.pk}"
    # PostgreSQL's jsonb does not keep the keys' order: compare the rows, not their order.
    assert sorted(presentation.audit_diff(entry)) == sorted(
        [("状态", "已分配", "进行中"), ("结果", "-", "无人接听"), ("当前渠道", "-", "电话")]
    )
