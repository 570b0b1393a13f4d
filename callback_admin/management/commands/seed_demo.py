"""Demo data with realistic Chinese customers (Faker zh_CN), idempotent: a second run only
prints the logins again."""

import datetime as dt
import itertools
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from faker import Faker

from accounts.models import (
    Account,
    AccountStatus,
    AccountType,
    Branch,
    ConsentEntry,
    ConsentKind,
    Customer,
    CustomerType,
    Department,
    IdType,
    RiskLevel,
    Role,
)
from accounts.otp import demo_device, second_factor_required
from accounts.services import staff_create
from escalations.models import Urgency
from escalations.services import escalation_accept, escalation_open
from supervision.assessment import AssessmentFrozen, assessment_compute
from supervision.complaints import complaint_register
from supervision.models import ComplaintSource
from visits.assignment import assign_visits
from visits.generation import generate_due_visits
from visits.ingest import EventInput, canonical_hash, events_ingest
from visits.models import (
    OPEN_VISIT_STATUSES,
    AttemptOutcome,
    ContactAttempt,
    Handling,
    ItemStatus,
    Visit,
    VisitKind,
    VisitRecord,
    VisitStatus,
)
from visits.transitions import visit_transition

BRANCHES = [
    ("BJ001", "北京分行营业部", "北京市西城区金融大街"),
    ("SH001", "上海分行陆家嘴支行", "上海市浦东新区陆家嘴环路"),
    ("GZ001", "广州分行天河支行", "广州市天河区珠江新城"),
]
DEPARTMENTS = [
    ("ebanking", "电子银行部"),
    ("security", "安全保卫部"),
    ("cards", "银行卡部"),
    ("wealth", "财富管理部"),
    ("complaints", "消费者权益保护部"),
]
PASSWORDS = {
    Role.AGENT: "Agent-Demo-2026!",
    Role.TELLER: "Teller-Demo-2026!",
    Role.HANDLER: "Handler-Demo-2026!",
    Role.SUPERVISOR: "Super-Demo-2026!",
    Role.ADMINISTRATOR: "Admin-Demo-2026!",
    Role.SECURITY_ADMIN: "Security-Demo-2026!",
    Role.AUDIT_ADMIN: "Audit-Demo-2026!",
}
# The demo users' shared TOTP secret (base32), printed with the logins: add it to an
# authenticator app, or run `manage.py demo_totp USERNAME`.
DEMO_TOTP_SECRET = "CALLBACKDEMOTOTP"
CUSTOMERS = 2000
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def _credit_code(rng) -> str:
    """A unified social credit code (GB 32100) with a valid check character."""
    body = "91" + "".join(rng.choice("0123456789") for _ in range(6))
    body += "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


ACCOUNTS = 3000


def _demo_event(event_id: str, **fields) -> EventInput:
    body = {"event_id": event_id, **fields, "account": fields["account"].number}
    return EventInput(event_id=event_id, body_hash=canonical_hash(body), fields=fields)


class Command(BaseCommand):
    help = "Create demo branches, staff, customers, accounts, events and visits (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=CUSTOMERS)
        parser.add_argument("--accounts", type=int, default=ACCOUNTS)

    def handle(self, *args, **options):
        # Notifications raised while seeding (escalations, complaints) are not mailed: the
        # console backend would print every message as raw MIME among the logins.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            self._seed(options)

    def _seed(self, options):
        fake = Faker("zh_CN")
        Faker.seed(20261128)
        rng = random.Random(20261128)
        branches = self._branches()
        departments = self._departments()
        self._staff(fake, branches, departments)
        if not Customer.objects.filter(external_id__startswith="DEMO").exists():
            with transaction.atomic():
                self._customers_and_accounts(
                    fake, rng, branches, options["customers"], options["accounts"]
                )
            self._events_and_visits(rng)
            self._history(rng, departments)
        self._print_logins()

    def _branches(self):
        return [
            Branch.objects.update_or_create(code=code, defaults={"name": name, "address": addr})[0]
            for code, name, addr in BRANCHES
        ]

    def _departments(self):
        return [
            Department.objects.update_or_create(code=code, defaults={"name": name})[0]
            for code, name in DEPARTMENTS
        ]

    def _staff(self, fake, branches, departments):
        User = get_user_model()
        plan = []
        for i in range(12):
            plan.append((f"agent{i + 1:02d}", Role.AGENT, [branches[i % 3]], []))
        plan += [
            ("teller01", Role.TELLER, [branches[0]], []),
            ("teller02", Role.TELLER, [branches[1]], []),
            ("handler01", Role.HANDLER, [], [departments[1]]),  # security
            ("handler02", Role.HANDLER, [], [departments[0]]),  # e-banking
            ("handler03", Role.HANDLER, [], departments[2:]),  # cards, wealth, complaints
            ("supervisor01", Role.SUPERVISOR, branches, []),
            ("supervisor02", Role.SUPERVISOR, [branches[1], branches[2]], []),
            ("admin", Role.ADMINISTRATOR, [], []),
            ("secadmin", Role.SECURITY_ADMIN, [], []),
            ("auditor", Role.AUDIT_ADMIN, [], []),
        ]
        for n, (username, role, user_branches, user_departments) in enumerate(plan):
            if User.objects.filter(username=username).exists():
                continue
            user = staff_create(
                username=username,
                password=PASSWORDS[role],
                role=role,
                full_name=fake.name(),
                email=f"{username}@bank.example",
                branches=user_branches,
                departments=user_departments,
                employee_no=f"E{n + 1:04d}",
            )
            if second_factor_required(user):
                demo_device(user, DEMO_TOTP_SECRET)

    def _customers_and_accounts(self, fake, rng, branches, n_customers, n_accounts):
        today = timezone.localdate()
        customers = []
        for i in range(n_customers):
            corporate = rng.random() < 0.15
            customers.append(
                Customer(
                    external_id=f"DEMO{i + 1:06d}",
                    customer_type=CustomerType.CORPORATE if corporate else CustomerType.PERSONAL,
                    name=fake.company() if corporate else fake.name(),
                    id_type=IdType.BUSINESS_LICENSE if corporate else IdType.RESIDENT_ID,
                    id_number=_credit_code(rng) if corporate else fake.ssn(),
                    id_expiry=today + dt.timedelta(days=rng.randint(-60, 3650)),
                    mobile=fake.phone_number(),
                    email=fake.free_email(),
                    landline=f"0{rng.randint(10, 99)}-{rng.randint(10000000, 99999999)}",
                    address=fake.address(),
                    risk_level=rng.choices(
                        [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH], [70, 22, 8]
                    )[0],
                    marketing_consent=rng.random() < 0.4,
                    do_not_contact=rng.random() < 0.03,
                    branch=branches[i % len(branches)],
                )
            )
        Customer.objects.bulk_create(customers, batch_size=500)
        customers = list(Customer.objects.filter(external_id__startswith="DEMO").order_by("pk"))
        accounts = []
        for i in range(n_accounts):
            customer = customers[i % len(customers)]
            corporate = customer.customer_type == CustomerType.CORPORATE
            if corporate:
                account_type = AccountType.CORPORATE if rng.random() < 0.85 else AccountType.SPECIAL
            else:
                account_type = (
                    AccountType.PERSONAL_SAVINGS if rng.random() < 0.95 else AccountType.SPECIAL
                )
            # Most accounts are years old; some opened in the last weeks (new-account visits).
            age_days = rng.randint(1, 20) if rng.random() < 0.05 else rng.randint(60, 3000)
            accounts.append(
                Account(
                    number=f"6222{customer.branch_id:02d}{i + 1:010d}",
                    customer=customer,
                    account_type=account_type,
                    status=rng.choices(
                        [AccountStatus.ACTIVE, AccountStatus.DORMANT, AccountStatus.FROZEN],
                        [94, 4, 2],
                    )[0],
                    opened_on=today - dt.timedelta(days=age_days),
                    branch=customer.branch,
                )
            )
        Account.objects.bulk_create(accounts, batch_size=1000)
        self._consent_ledger(rng, customers)

    def _consent_ledger(self, rng, customers):
        """The ledger behind the badges: every customer shown as consenting to marketing, or as
        not to be contacted, has the entry that says when and where they said so."""
        now = timezone.now()
        entries = []
        for customer in customers:
            when = now - dt.timedelta(days=rng.randint(30, 900))
            if customer.marketing_consent:
                entries.append(
                    ConsentEntry(
                        customer=customer, kind=ConsentKind.MARKETING, granted=True,
                        source="counter", note="开户时签署营销同意书", recorded_at=when,
                    )
                )  # fmt: skip
            if customer.do_not_contact:
                entries.append(
                    ConsentEntry(
                        customer=customer, kind=ConsentKind.CONTACT, granted=False,
                        source="counter", note="客户要求勿扰", recorded_at=when,
                    )
                )  # fmt: skip
        ConsentEntry.objects.bulk_create(entries, batch_size=1000)

    def _events_and_visits(self, rng):
        """Events through the same rules as the API, then the scheduled jobs once."""

        now = timezone.now()
        # The masked copy keeps the first four digits: no decryption to find the demo's own.
        seeded = Account.objects.filter(number_masked__startswith="6222")
        accounts = list(seeded.order_by("pk")[:400])
        events = []
        for n, account in enumerate(accounts):
            large = n % 5 == 0
            kind = "cash" if n % 2 else "transfer"
            amount = Decimal(rng.choice([60000, 88000, 650000])) if large else Decimal("1200.00")
            data = {
                "amount": f"{amount:.2f}",
                "currency": "CNY",
                "direction": "out",
                "channel": "counter",
                "kind": kind,
            }
            events.append(
                _demo_event(
                    f"DEMO-EV-{n:05d}",
                    event_type="transaction",
                    account=account,
                    occurred_at=now - dt.timedelta(hours=rng.randint(1, 48)),
                    data=data,
                    amount=amount,
                    currency="CNY",
                    txn_kind=kind,
                    direction="out",
                    channel="counter",
                )
            )
        for n, account in enumerate(accounts[:30]):
            events.append(
                _demo_event(
                    f"DEMO-INFO-{n:05d}",
                    event_type="info_changed" if n % 2 else "complaint",
                    account=account,
                    occurred_at=now - dt.timedelta(hours=2),
                    data={"fields": ["mobile"]} if n % 2 else {"text": "对账单寄送地址有误"},
                )
            )
        # Through the one event writer, like core banking's events.
        events_ingest(client=None, events=events)
        generate_due_visits(now=now)
        assign_visits(now=now)
        self._spread_due_dates(rng, now)

    def _spread_due_dates(self, rng, now):
        """Accounts opened years ago make every periodic visit long overdue; a worklist that is
        all red shows nothing. Spread the open visits: a few overdue, some due today, most in the
        coming weeks; suspected fraud within hours."""
        end_of_day = timezone.localtime(now).replace(hour=23, minute=59, second=0, microsecond=0)
        today_minutes = max(int((end_of_day - now).total_seconds() // 60) - 5, 10)
        visits = list(
            Visit.objects.filter(status__in=OPEN_VISIT_STATUSES)
            .order_by("pk")
            .only("pk", "suspected_fraud")
        )
        for visit in visits:
            draw = rng.random()
            if visit.suspected_fraud:
                visit.due_at = now + dt.timedelta(hours=rng.randint(1, 20))
            elif draw < 0.08:
                visit.due_at = now - dt.timedelta(hours=rng.randint(2, 72))
            elif draw < 0.22:
                visit.due_at = now + dt.timedelta(minutes=rng.randint(5, today_minutes))
            else:
                visit.due_at = now + dt.timedelta(days=rng.randint(1, 25), hours=rng.randint(0, 8))
        Visit.objects.bulk_update(visits, ["due_at"], batch_size=1000)

    def _history(self, rng, departments):
        """Last month's completed visits with their records (for the audit sample, the
        dashboard and the assessment), a few escalations under way and two complaints."""

        User = get_user_model()
        today = timezone.localdate()
        last_month_end = today.replace(day=1) - dt.timedelta(days=1)
        # Enough rated visits per agent (ASSESSMENT_MIN_RATED_VISITS, 20 by default) for the
        # ranking to rank: 40 per agent.
        per_agent = max(int(settings.CALLBACK.get("ASSESSMENT_MIN_RATED_VISITS", 20)) * 2, 40)
        accounts = list(
            Account.objects.filter(visits__isnull=True)
            .select_related("branch")
            .order_by("pk")[: per_agent * 12]
        )
        # A small demo (--accounts) visits some accounts more than once.
        accounts = list(itertools.islice(itertools.cycle(accounts), per_agent * 12))
        # agentNN works in BRANCHES[(NN - 1) % 3] (see _staff).
        agents_by_branch = {}
        for user in User.objects.filter(
            profile__role=Role.AGENT, username__regex=r"^agent[0-9]{2}$"
        ).order_by("username"):
            code = BRANCHES[(int(user.username[-2:]) - 1) % len(BRANCHES)][0]
            agents_by_branch.setdefault(code, []).append(user)
        for n, account in enumerate(accounts):
            agents = agents_by_branch[account.branch.code]
            agent = agents[n % len(agents)]
            day = last_month_end - dt.timedelta(days=rng.randint(0, 27))
            done_at = timezone.make_aware(dt.datetime.combine(day, dt.time(10 + n % 6, 15)))
            visit = Visit.objects.create(
                account=account,
                branch_id=account.branch_id,
                kind=VisitKind.PERIODIC,
                priority=30,
                assigned_at=done_at - dt.timedelta(days=2),
                phone_attempts=1 + n % 2,
                due_at=done_at + dt.timedelta(days=rng.choice([-1, 2, 5])),
                reason="定期回访（演示历史数据）",
                created_at=done_at,
            )
            visit_transition(visit=visit, to=VisitStatus.COMPLETED, by=agent, now=done_at)
            if n % 2:
                ContactAttempt.objects.create(
                    visit=visit,
                    channel="phone",
                    agent=agent,
                    outcome=AttemptOutcome.NO_ANSWER,
                    started_at=done_at - dt.timedelta(days=1),
                )
            ContactAttempt.objects.create(
                visit=visit,
                channel="phone",
                agent=agent,
                outcome=AttemptOutcome.REACHED,
                started_at=done_at - dt.timedelta(minutes=8),
                ended_at=done_at,
            )
            VisitRecord.objects.create(
                visit=visit,
                channel="phone",
                submitted_at=done_at,
                submitted_by=agent,
                mobile_status=ItemStatus.CONFIRMED,
                email_status=ItemStatus.CONFIRMED,
                landline_status=rng.choice([ItemStatus.CONFIRMED, ItemStatus.NOT_ASKED]),
                address_status=ItemStatus.CONFIRMED,
                transactions_reviewed=True,
                online_banking="uses",
                mobile_banking="uses",
                sms_alerts="uses",
                reminder_anti_fraud=True,
                reminder_safe_operation=True,
                feedback=rng.choice(["服务满意", "希望简化手机银行转账流程", "无意见", ""]),
                satisfaction=rng.choices([5, 4, 3, 2], [55, 30, 10, 5])[0],
                handling=Handling.NO_PROBLEM,
            )
        # Escalations under way, opened from current visits by their agents.
        security = next(d for d in departments if d.code == "security")
        ebanking = next(d for d in departments if d.code == "ebanking")
        handler = User.objects.get(username="handler01")
        open_visits = Visit.objects.filter(
            status=VisitStatus.ASSIGNED, kind=VisitKind.SPECIAL_EVENT
        ).select_related("assigned_to")[:6]
        # Each problem to the department that handles it: a denied transaction is a security
        # matter, urgent; login and SMS-alert problems go to e-banking.
        problems = [
            (security, Urgency.URGENT, "客户否认一笔转账交易"),
            (ebanking, Urgency.HIGH, "手机银行登录异常"),
            (ebanking, Urgency.NORMAL, "短信提醒未收到"),
        ]
        for n, visit in enumerate(open_visits):
            department, urgency, description = problems[n % 3]
            escalation = escalation_open(
                visit=visit,
                department=department,
                urgency=urgency,
                description=description,
                by=visit.assigned_to,
            )
            if department == security and n < 4:
                escalation_accept(escalation=escalation, by=handler)
        try:  # last month's ranking, as the monthly job would have computed it
            assessment_compute(month=last_month_end.replace(day=1))
        except AssessmentFrozen:
            pass
        completed = Visit.objects.filter(status=VisitStatus.COMPLETED).select_related(
            "assigned_to", "account__customer"
        )[:2]
        for visit, source in zip(
            completed, [ComplaintSource.HOTLINE, ComplaintSource.SUGGESTION_BOX]
        ):
            complaint_register(
                source=source,
                text="回访人员未表明身份即询问账户信息。",
                visit=visit,
                by=User.objects.get(username="teller01"),
            )

    def _print_logins(self):
        port = "8000"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("演示数据已就绪 / Demo data ready"))
        self.stdout.write(f"  登录地址 / Login: http://127.0.0.1:{port}/login/")
        rows = [
            ("agent01 … agent12", Role.AGENT, "回访人员 / agent"),
            ("teller01, teller02", Role.TELLER, "柜员 / teller"),
            ("handler01 (安全保卫部), handler02, handler03", Role.HANDLER, "部门处理人 / handler"),
            ("supervisor01, supervisor02", Role.SUPERVISOR, "监督管理人员 / supervisor"),
            ("admin", Role.ADMINISTRATOR, "系统管理员 / administrator"),
            ("secadmin", Role.SECURITY_ADMIN, "安全管理员 / security administrator"),
            ("auditor", Role.AUDIT_ADMIN, "审计管理员 / audit administrator"),
        ]
        for users, role, label in rows:
            self.stdout.write(f"  {label:<36} {users:<45} password: {PASSWORDS[role]}")
        start, end = (
            settings.CALLBACK["CALLING_HOURS_START"],
            settings.CALLBACK["CALLING_HOURS_END"],
        )
        self.stdout.write(
            f"  呼叫时段 / Calling hours: {start:%H:%M}–{end:%H:%M}. 此时段以外登记电话联系会被拒绝；"
            "夜间试用回访流程请用 / Calls are refused outside them; to try the agent flow at "
            "night run: CALLING_HOURS_START=00:00 CALLING_HOURS_END=23:59 make run"
        )
        if settings.CALLBACK.get("REQUIRE_2FA", True):
            self.stdout.write(
                "  监督与管理角色需要动态口令 / Supervisors and administrators also need a TOTP "
                f"code: secret {DEMO_TOTP_SECRET} in an authenticator app, or run "
                "`.venv/bin/python manage.py demo_totp USERNAME` for the current code."
            )
