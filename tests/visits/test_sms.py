"""SMS channel: quiet hours, caps, no double sending, the HTTP gateway, replies and opt-out."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AccountEvent, ConsentEntry, Customer
from tests.factories import AccountFactory, CustomerFactory
from visits.models import Visit, VisitRecord
from workspace.channels import sms
from workspace.models import SmsMessage, SmsTemplate
from workspace.services import attempt_log, contact_blocked_reason

from .workspace_helpers import CALL_TIME, SHANGHAI, ensure_seed_data, open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("3.sms", clause="五.2")]


@pytest.fixture(autouse=True)
def _seed_data(db):
    ensure_seed_data()


TOKEN = "gateway-secret-123"


class CountingBackend(sms.BaseSmsBackend):
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message.pk)
        return f"gw-{message.pk}-{len(self.sent)}"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def _queue(branch, customer=None, **kwargs) -> SmsMessage:
    customer = customer or CustomerFactory(branch=branch)
    visit = open_visit(branch, account=AccountFactory(customer=customer), **kwargs)
    return sms.sms_queue_for_visit(visit)


def test_it_queues_one_message_per_visit_with_masked_placeholders(branch):
    visit = open_visit(branch)
    with time_machine.travel(CALL_TIME, tick=False):
        first = sms.sms_queue_for_visit(visit)
        again = sms.sms_queue_for_visit(visit)
    assert first.pk == again.pk and SmsMessage.objects.count() == 1
    assert "138****8000" in first.body and "13800138000" not in first.body
    assert "{" not in first.body
    visit.refresh_from_db()
    assert visit.channel == "sms"


@pytest.mark.parametrize(
    ("queued_at", "sent_at"),
    [
        (at(1, 22, 30), at(2, 8, 0)),  # evening: waits for the morning
        (at(2, 6, 0), at(2, 8, 0)),  # early morning: waits for 08:00 the same day
        (at(2, 21, 0), at(3, 8, 0)),  # 21:00 is already quiet
        (at(2, 20, 59), at(2, 20, 59)),  # just before the quiet hours: sent at once
    ],
)
def test_it_holds_messages_in_quiet_hours_until_the_next_window(branch, queued_at, sent_at):
    backend = CountingBackend()
    with time_machine.travel(queued_at, tick=False):
        message = _queue(branch)
        assert message.not_before == sent_at
        sms.sms_send_due(backend=backend)
    if sent_at > queued_at:
        assert backend.sent == []
        with time_machine.travel(sent_at - dt.timedelta(minutes=1), tick=False):
            assert sms.sms_send_due(backend=backend) == 0
    with time_machine.travel(sent_at, tick=False):
        sms.sms_send_due(backend=backend)
    assert backend.sent == [message.pk]
    message.refresh_from_db()
    assert message.status == "sent" and message.sent_at == sent_at


def test_a_message_made_due_in_quiet_hours_is_moved_to_the_next_window(branch):
    with time_machine.travel(at(1, 20, 0), tick=False):
        message = _queue(branch)
    backend = CountingBackend()
    with time_machine.travel(at(1, 23, 0), tick=False):  # the worker only runs now
        assert sms.sms_send_due(backend=backend) == 0
    message.refresh_from_db()
    assert message.status == "queued" and message.not_before == at(2, 8, 0)


def test_it_caps_messages_per_customer_per_day_and_week(branch):
    customer = CustomerFactory(branch=branch)
    backend = CountingBackend()
    with time_machine.travel(at(1, 9), tick=False):
        messages = [_queue(branch, customer) for _ in range(5)]
        assert sms.sms_send_due(backend=backend) == 1  # 1 a day
    for day in (2, 3):
        with time_machine.travel(at(day, 9), tick=False):
            assert sms.sms_send_due(backend=backend) == 1
    for day in (4, 5, 6, 7, 8):  # 3 in the last 7 days: the week's cap holds
        with time_machine.travel(at(day, 9), tick=False):
            assert sms.sms_send_due(backend=backend) == 0
    waiting = SmsMessage.objects.filter(status="queued").order_by("not_before").first()
    assert waiting.not_before == at(8, 9, 0) + dt.timedelta(seconds=1)
    with time_machine.travel(at(8, 9, 1), tick=False):
        assert sms.sms_send_due(backend=backend) == 1
    assert len(backend.sent) == 4 and len(set(backend.sent)) == 4
    assert {m.pk for m in messages} >= set(backend.sent)
    # Another customer is not held back by the first one's caps.
    with time_machine.travel(at(8, 10), tick=False):
        other = _queue(branch)
        sms.sms_send_due(backend=backend)
    assert backend.sent[-1] == other.pk


def test_it_never_sends_twice_when_a_worker_retries(branch):
    backend = CountingBackend()
    with time_machine.travel(CALL_TIME, tick=False):
        message = _queue(branch)
        assert sms.sms_send_due(backend=backend) == 1
        assert sms.sms_send_due(backend=backend) == 0  # a second run finds nothing to do
        # A worker that died after claiming (status "sending") is never picked again.
        crashed = _queue(branch)
        assert sms._claim(crashed.pk, CALL_TIME) is not None
        assert sms._claim(crashed.pk, CALL_TIME) is None
        assert sms.sms_send_due(backend=backend) == 0
    assert backend.sent == [message.pk]
    crashed.refresh_from_db()
    assert crashed.status == "sending"


def test_it_retries_transient_gateway_errors_then_gives_up(branch):
    class TimingOut(sms.BaseSmsBackend):
        calls = 0

        def send(self, message):
            TimingOut.calls += 1
            raise sms.SmsRetryableError("timeout")

    with time_machine.travel(CALL_TIME, tick=False) as traveller:
        message = _queue(branch)
        for _ in range(sms.MAX_TRIES):
            sms.sms_send_due(backend=TimingOut())
            message.refresh_from_db()
            traveller.move_to(message.not_before)  # the backed-off retry time
    message.refresh_from_db()
    assert TimingOut.calls == sms.MAX_TRIES
    assert message.status == "failed" and message.error == "timeout"
    assert Visit.objects.get(pk=message.visit_id).attempts.filter(outcome="sms_failed").exists()


def test_it_skips_do_not_contact_customers_except_for_security_visits(branch):
    backend = CountingBackend()
    customer = CustomerFactory(branch=branch, do_not_contact=True)
    with time_machine.travel(CALL_TIME, tick=False):
        plain = _queue(branch, customer)
        security = _queue(branch, CustomerFactory(branch=branch, do_not_contact=True),
                          suspected_fraud=True)  # fmt: skip
        sms.sms_send_due(backend=backend)
    plain.refresh_from_db()
    assert (plain.status, plain.error) == ("skipped", "do not contact")
    assert backend.sent == [security.pk]


def test_it_sends_marketing_only_with_consent(branch):
    template = SmsTemplate.objects.create(code="promo", body="理财产品", is_marketing=True)
    backend = CountingBackend()
    with time_machine.travel(CALL_TIME, tick=False):
        no = SmsMessage.objects.create(customer=CustomerFactory(branch=branch), template=template,
                                       body="x", idempotency_key="promo-1")  # fmt: skip
        yes = SmsMessage.objects.create(
            customer=CustomerFactory(branch=branch, marketing_consent=True), template=template,
            body="x", idempotency_key="promo-2",
        )  # fmt: skip
        sms.sms_send_due(backend=backend)
    no.refresh_from_db()
    assert (no.status, no.error) == ("skipped", "no marketing consent")
    assert backend.sent == [yes.pk]


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("1", "correct"), (" 1 ", "correct"), ("１", "correct"), ("1。", "correct"),
        ("2", "wrong"), ("２", "wrong"),
        ("TD", "opt_out"), ("td", "opt_out"), ("退订", "opt_out"), ("ＴＤ", "opt_out"),
        ("STOP", "opt_out"), ("unsubscribe", "opt_out"),
        # Ambiguous: a slip, a "No", a cut-off "TD". Unrecognised, never an opt-out.
        ("T", None), ("N", None), ("n。", None), ("Ｔ", None),
        ("12", None), ("", None), ("好的", None), ("3", None),
    ],
)  # fmt: skip
def test_it_parses_replies(text, meaning):
    assert sms.sms_reply_parse(text) == meaning


# --- HTTP gateway -------------------------------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    answers: list = []
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.received.append(json.loads(body))
        status, payload = _Gateway.answers.pop(0)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.answers, _Gateway.received = [], []
    yield f"http://127.0.0.1:{server.server_port}/send"
    server.shutdown()


def test_the_http_gateway_retries_server_errors_and_passes_the_idempotency_key(branch, gateway):
    with time_machine.travel(CALL_TIME, tick=False):
        message = _queue(branch)
    _Gateway.answers = [(503, {}), (200, {"message_id": "GW-1"})]
    backend = sms.HttpGatewayBackend(url=gateway, timeout=2, retries=2)
    assert backend.send(message) == "GW-1"
    assert len(_Gateway.received) == 2
    assert _Gateway.received[0]["client_ref"] == message.idempotency_key
    assert _Gateway.received[0]["to"] == "13800138000"
    _Gateway.answers = [(500, {}), (502, {})]
    with pytest.raises(sms.SmsRetryableError):
        sms.HttpGatewayBackend(url=gateway, timeout=2, retries=1).send(message)
    _Gateway.answers = [(400, {"error": "bad number"})]
    with pytest.raises(sms.SmsError) as refused:
        sms.HttpGatewayBackend(url=gateway, timeout=2, retries=3).send(message)
    assert not isinstance(refused.value, sms.SmsRetryableError)


def test_the_http_gateway_times_out_as_a_retryable_error(branch):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    with time_machine.travel(CALL_TIME, tick=False):
        message = _queue(branch)
    backend = sms.HttpGatewayBackend(
        url=f"http://127.0.0.1:{silent.getsockname()[1]}/send", timeout=0.3, retries=0
    )
    with pytest.raises(sms.SmsRetryableError):
        backend.send(message)
    silent.close()


# --- Gateway callback ---------------------------------------------------------------------------


@pytest.fixture
def sent_message(branch, settings):
    settings.CALLBACK = {**settings.CALLBACK, "SMS_CALLBACK_TOKEN": TOKEN}
    with time_machine.travel(CALL_TIME, tick=False):
        message = _queue(branch)
        sms.sms_send_due(backend=CountingBackend())
    message.refresh_from_db()
    return message


def _callback(client, body, token=TOKEN):
    return client.post(
        reverse("public:sms_callback"), json.dumps(body), content_type="application/json",
        HTTP_X_CALLBACK_TOKEN=token,
    )  # fmt: skip


def test_the_callback_needs_the_shared_secret_and_names_bad_fields(client, sent_message):
    gid = sent_message.gateway_message_id
    assert (
        _callback(client, {"type": "reply", "message_id": gid, "text": "1"}, "x").status_code == 401
    )
    assert _callback(client, {"type": "reply", "message_id": gid}).json() == {"text": ["required"]}
    assert _callback(client, {"type": "nope", "message_id": gid}).status_code == 400
    assert (
        _callback(
            client, {"type": "delivery", "message_id": "unknown", "status": "delivered"}
        ).status_code
        == 404
    )
    bad_json = client.post(reverse("public:sms_callback"), "{", content_type="application/json",
                           HTTP_X_CALLBACK_TOKEN=TOKEN)  # fmt: skip
    assert bad_json.status_code == 400
    assert Visit.objects.get(pk=sent_message.visit_id).is_open


def test_a_delivery_report_marks_the_message_delivered(client, sent_message):
    body = {
        "type": "delivery",
        "message_id": sent_message.gateway_message_id,
        "status": "delivered",
    }
    assert _callback(client, body).status_code == 200
    assert _callback(client, body).status_code == 200  # a repeat changes nothing
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered" and sent_message.delivered_at is not None


def test_reply_1_completes_the_visit_with_an_sms_record(client, sent_message):
    body = {"type": "reply", "message_id": sent_message.gateway_message_id, "text": "1"}
    assert _callback(client, body).json() == {"ok": True, "meaning": "correct"}
    visit = Visit.objects.get(pk=sent_message.visit_id)
    assert visit.status == "completed"
    record = VisitRecord.objects.get(visit=visit)
    assert (record.channel, record.mobile_status, record.answers) == (
        "sms",
        "confirmed",
        {"sms_reply": "1"},
    )
    _callback(client, body)
    assert VisitRecord.objects.count() == 1


def test_reply_2_sends_the_visit_back_to_the_phone_with_an_info_change_follow_up(
    client, sent_message
):
    body = {"type": "reply", "message_id": sent_message.gateway_message_id, "text": "２"}
    assert _callback(client, body).json()["meaning"] == "wrong"
    visit = Visit.objects.get(pk=sent_message.visit_id)
    assert visit.is_open and visit.channel == "phone" and visit.phone_attempts == 0
    event = AccountEvent.objects.get(event_type="info_changed")
    assert event.account_id == visit.account_id
    assert Visit.objects.filter(triggers__event=event, kind="special_event").exists()


@pytest.mark.spec("4.sms-opt-out", clause="五.2")
def test_td_opts_out_before_the_next_message(client, sent_message, branch):
    customer = sent_message.customer
    with time_machine.travel(at(2, 9), tick=False):
        next_one = _queue(branch, customer)  # queued before the reply arrives
        body = {"type": "reply", "message_id": sent_message.gateway_message_id, "text": "TD"}
        assert _callback(client, body).json()["meaning"] == "opt_out"
        backend = CountingBackend()
        sms.sms_send_due(backend=backend)
    assert backend.sent == []
    next_one.refresh_from_db()
    assert next_one.status == "skipped"
    customer.refresh_from_db()
    # SMS only: not do-not-contact, marketing consent untouched (SPEC §4).
    assert (customer.sms_opt_out, customer.do_not_contact) == (True, False)
    entry = ConsentEntry.objects.get(customer=customer)
    assert (entry.kind, entry.granted, entry.source) == ("sms", False, "sms")
    assert _callback(client, body).status_code == 200  # the gateway repeats itself
    assert ConsentEntry.objects.filter(customer=customer).count() == 1


def test_td_after_an_earlier_reply_still_opts_out(client, sent_message):
    gid = sent_message.gateway_message_id
    _callback(client, {"type": "reply", "message_id": gid, "text": "1"})
    _callback(client, {"type": "reply", "message_id": gid, "text": "退订"})
    sent_message.customer.refresh_from_db()
    assert sent_message.customer.sms_opt_out is True


@pytest.mark.spec("4.sms-opt-out", clause="五.2")
def test_td_stops_sms_but_phone_callbacks_go_on(client, sent_message, branch, agent):
    customer = sent_message.customer
    Customer.objects.filter(pk=customer.pk).update(marketing_consent=True)
    body = {"type": "reply", "message_id": sent_message.gateway_message_id, "text": "TD"}
    with time_machine.travel(at(2, 10), tick=False):
        assert _callback(client, body).json()["meaning"] == "opt_out"
        phone_visit = open_visit(branch, account=AccountFactory(customer=customer), agent=agent)
        assert contact_blocked_reason(phone_visit) == ""
        attempt = attempt_log(visit=phone_visit, agent=agent, outcome="no_answer")
    assert attempt.outcome == "no_answer"
    customer.refresh_from_db()
    assert customer.marketing_consent is True and customer.do_not_contact is False
    assert Visit.objects.get(pk=phone_visit.pk).status == "in_progress"


@pytest.mark.spec("4.sms-opt-out", clause="五.2")
@pytest.mark.parametrize("text", ["N", "T"])
def test_n_and_t_are_unrecognised_replies_not_opt_outs(client, sent_message, branch, text):
    body = {"type": "reply", "message_id": sent_message.gateway_message_id, "text": text}
    assert _callback(client, body).json()["meaning"] is None
    customer = Customer.objects.get(pk=sent_message.customer_id)
    assert (customer.sms_opt_out, customer.do_not_contact) == (False, False)
    assert not ConsentEntry.objects.filter(customer=customer).exists()
    with time_machine.travel(at(3, 9), tick=False):
        next_one = _queue(branch, customer)
        assert sms.sms_send_due(backend=CountingBackend()) == 1
    next_one.refresh_from_db()
    assert next_one.status == "sent"


def test_it_skips_customers_who_opted_out_of_sms_except_for_security_visits(branch):
    backend = CountingBackend()
    with time_machine.travel(CALL_TIME, tick=False):
        plain = _queue(branch, CustomerFactory(branch=branch, sms_opt_out=True))
        security = _queue(branch, CustomerFactory(branch=branch, sms_opt_out=True),
                          suspected_fraud=True)  # fmt: skip
        sms.sms_send_due(backend=backend)
    plain.refresh_from_db()
    assert (plain.status, plain.error) == ("skipped", "sms opt-out")
    assert backend.sent == [security.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_message_once(branch):
    import time

    class Slow(CountingBackend):
        def send(self, message):
            time.sleep(0.05)
            return super().send(message)

    with time_machine.travel(CALL_TIME, tick=False):
        for _ in range(12):
            _queue(branch)
    backend = Slow()
    barrier = threading.Barrier(3)
    errors = []

    def work():
        from django.db import connection

        try:
            barrier.wait()
            with time_machine.travel(CALL_TIME, tick=False):
                sms.sms_send_due(backend=backend)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(backend.sent) == 12 and len(set(backend.sent)) == 12
    assert SmsMessage.objects.filter(status="sent").count() == 12
