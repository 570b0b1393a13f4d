"""Training attendance of agents."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from accounts.models import StaffCertification
from core.audit import audit
from core.audit_actions import AuditAction
from supervision.models import (
    TrainingAttendance,
)

# --- Training ------------------------------------------------------------------------------


def training_attendance_record(
    *, course, agent, attended_on: dt.date, hours, passed: bool, by, request=None
) -> TrainingAttendance:
    """Records attendance; a passed course that grants a certification grants it (once)."""
    with transaction.atomic():
        attendance = TrainingAttendance.objects.create(
            course=course, agent=agent, attended_on=attended_on, hours=hours, passed=passed
        )
        granted = False
        if passed and course.grants_id and hasattr(agent, "profile"):
            _, granted = StaffCertification.objects.get_or_create(
                profile=agent.profile,
                certification_id=course.grants_id,
                defaults={"granted_on": attended_on},
            )
        audit(
            AuditAction.TRAINING_ATTENDANCE_RECORD,
            actor=by,
            obj=attendance,
            after={
                "agent": agent.pk,
                "course": course.pk,
                "passed": passed,
                "certification_granted": course.grants_id if granted else None,
            },
            request=request,
        )
    return attendance
