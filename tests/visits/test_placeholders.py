"""One placeholder renderer for call scripts and SMS templates: one set of placeholders, one
fallback rule, and "尾号" followed by the last four digits wherever a text says 尾号."""

import pytest

from visits.models import Script, VisitKind
from visits.placeholders import PLACEHOLDERS, render_placeholders
from workspace.channels.sms import sms_render
from workspace.models import SmsTemplate
from workspace.views import script_text

from .workspace_helpers import open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("2.script", clause="七.2")]

EVERY = "".join(f"[{{{name}}}]" for name in PLACEHOLDERS)


@pytest.fixture
def visit(account, agent, settings):
    settings.CALLBACK = {**settings.CALLBACK, "BANK_NAME": "测试银行"}
    return open_visit(account.branch, agent=agent, account=account)


def test_it_fills_every_placeholder(visit, agent, account):
    masked = account.masked_number
    assert render_placeholders(EVERY, visit, agent=agent) == (
        f"[测试银行][李娜][张伟][138****8000][{masked}][北京市东城区****][北京分行营业部]"
    )


def test_a_text_for_the_customer_masks_the_name_and_nothing_else_changes(visit, account):
    assert render_placeholders(EVERY, visit, for_customer=True) == (
        f"[测试银行][][张*][138****8000][{account.masked_number}][北京市东城区****][北京分行营业部]"
    )


def test_unknown_placeholders_and_stray_braces_stay_as_written(visit, agent):
    text = "您好{customer_name}，{unknown}、{ 与 {0} 与 }{bank_name}"
    expected = "您好张伟，{unknown}、{ 与 {0} 与 }测试银行"
    assert render_placeholders(text, visit, agent=agent) == expected
    assert render_placeholders(text, visit, for_customer=True) == expected.replace("张伟", "张*")


def test_after_weihao_the_account_reads_as_its_last_four_digits(visit, account):
    tail = account.number[-4:]
    text = "您尾号{masked_account}的账户；尾号为{masked_account}；账户{masked_account}"
    assert render_placeholders(text, visit) == (
        f"您尾号{tail}的账户；尾号为{tail}；账户{account.masked_number}"
    )


def test_scripts_and_sms_templates_render_through_the_one_renderer(visit, agent, account):
    body = "尾号为{masked_account} {customer_name} {agent_name} {unknown} {"
    script = Script(kind=VisitKind.PERIODIC, title="t", body=body)
    template = SmsTemplate(code="t", body=body)
    assert script_text(script, visit, agent) == render_placeholders(body, visit, agent=agent)
    assert sms_render(template, visit) == render_placeholders(body, visit, for_customer=True)
    assert sms_render(template, visit) == f"尾号为{account.number[-4:]} 张*  {{unknown}} {{"


def test_the_seeded_texts_say_weihao_with_four_digits(visit, agent, account):
    tail = account.number[-4:]
    confirm = sms_render(SmsTemplate.objects.get(code="info_confirm"), visit)
    assert f"尾号为{tail}的账户" in confirm and "*" * 8 not in confirm
    for script in Script.objects.filter(is_active=True):
        text = script_text(script, visit, agent)
        assert "{" not in text
        if "尾号" in script.body:
            assert f"尾号{tail}" in text or f"尾号为{tail}" in text
            assert account.masked_number not in text
