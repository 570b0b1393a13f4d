"""Assignment (SPEC §4), a scheduled job: ``assign_visits`` takes pending visits with
``SELECT ... FOR UPDATE SKIP LOCKED`` in small batches and gives each to the eligible agent of
its branch with the fewest open visits; the visits of agents who are away go back to the pool.
Generation is in visits/generation.py, the fallback ladder in workspace/ladder.py."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import Role, StaffCertification, StaffProfile
from accounts.permissions import branch_ids_by_user
from core.calendar import business_tz
from visits.models import Visit, VisitStatus
from visits.transitions import visits_transition

logger = logging.getLogger(__name__)

# --- Assignment -------------------------------------------------------------------------------


def _eligible_agents(today: date):
    """user id -> (branch ids, certification ids) of every agent present today."""

    profiles = dict(
        StaffProfile.objects.filter(
            role=Role.AGENT, is_absent=False, user__is_active=True
        ).values_list("user_id", "pk")
    )
    scope = branch_ids_by_user(profiles)
    certifications = defaultdict(set)
    for profile_id, certification_id in StaffCertification.objects.filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=today),
        profile_id__in=profiles.values(),
        granted_on__lte=today,
    ).values_list("profile_id", "certification_id"):
        certifications[profile_id].add(certification_id)
    return {user_id: (scope[user_id], certifications[pk]) for user_id, pk in profiles.items()}


def _release_absent_agents_visits(now: datetime) -> int:
    """Visits assigned to an agent now marked absent (and not yet started) go back to the
    pool; in-progress ones stay with the agent who has talked to the customer."""
    absent = StaffProfile.objects.filter(
        Q(is_absent=True) | Q(user__is_active=False), role=Role.AGENT
    ).values("user_id")
    return visits_transition(
        Visit.objects.filter(status=VisitStatus.ASSIGNED, assigned_to__in=absent),
        to=VisitStatus.PENDING,
        now=now,
    )


def assign_visits(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Give pending visits to agents of the visit's branch with the fewest open visits,
    skipping absent agents and those without the certification the visit's policy requires.
    Rows are taken with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent assigners (or an
    agent pressing "next") never hand out the same visit. Returns the number assigned."""
    now = now or timezone.now()
    released = _release_absent_agents_visits(now)
    agents = _eligible_agents(timezone.localtime(now, business_tz()).date())
    if not agents:
        logger.info("assign_visits: no agent available")
        return 0
    load = dict.fromkeys(agents, 0)
    load.update(
        Visit.objects.filter(
            status__in=[VisitStatus.ASSIGNED, VisitStatus.IN_PROGRESS], assigned_to__in=list(agents)
        )
        .values_list("assigned_to")
        .annotate(n=Count("pk"))
    )
    agents_by_branch = defaultdict(list)
    for user_id, (branches, _certs) in agents.items():
        for branch_id in branches:
            agents_by_branch[branch_id].append(user_id)
    skip_locked = connection.features.has_select_for_update_skip_locked
    assigned, last_pk = 0, 0
    while True:
        with transaction.atomic():
            rows = list(
                Visit.objects.filter(
                    status=VisitStatus.PENDING,
                    assigned_to__isnull=True,
                    pk__gt=last_pk,
                    branch_id__in=list(agents_by_branch),
                )
                .order_by("pk")
                .select_for_update(skip_locked=skip_locked, of=("self",))
                .values_list(
                    "pk", "branch_id", "policy__required_certification_id", "priority", "due_at"
                )[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            # Most urgent first, so that they go to the least loaded agents.
            rows.sort(key=lambda r: (-r[3], r[4], r[0]))
            picks = defaultdict(list)
            for pk, branch_id, certification_id, _priority, _due in rows:
                candidates = [
                    user_id
                    for user_id in agents_by_branch[branch_id]
                    if certification_id is None or certification_id in agents[user_id][1]
                ]
                if not candidates:
                    continue
                chosen = min(candidates, key=lambda u: (load[u], u))
                load[chosen] += 1
                picks[chosen].append(pk)
            for user_id, pks in picks.items():
                # The status condition makes a visit claimed meanwhile (e.g. without SKIP
                # LOCKED on SQLite) count for nobody rather than twice.
                done = visits_transition(
                    Visit.objects.filter(
                        pk__in=pks, status=VisitStatus.PENDING, assigned_to__isnull=True
                    ),
                    to=VisitStatus.ASSIGNED,
                    assigned_to=user_id,
                    now=now,
                )
                load[user_id] += done - len(pks)
                assigned += done
    logger.info("assign_visits done", extra={"assigned": assigned, "released": released})
    return assigned
