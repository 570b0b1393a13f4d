"""Default SMS templates and questionnaire questions.
Administrators edit all of them afterwards (admin); this only fills an empty installation."""

from django.db import migrations

SMS_TEMPLATES = [
    (
        "info_confirm",
        "",
        "【{bank_name}】尊敬的{customer_name}，您尾号为{masked_account}的账户正在进行回访："
        "您在我行预留的手机号码为{masked_mobile}，信息正确请回复1，有误请回复2。"
        "我行不会索要密码或验证码。回复TD退订。",
    ),
    (
        "new_account_confirm",
        "new_account",
        "【{bank_name}】尊敬的{customer_name}，感谢您在{branch_name}开立账户{masked_account}。"
        "如开户信息无误请回复1，有误请回复2。请勿向任何人透露密码或验证码。回复TD退订。",
    ),
]

QUESTIONS = [
    (1, "info_correct", "您在我行预留的手机号码、地址等信息是否准确？", "yes_no", "no"),
    (2, "txn_recognised", "您账户近期的交易是否均为您本人或您授权的操作？", "yes_no", "no"),
    (3, "channel_ok", "您使用网上银行、手机银行和短信提醒是否顺利？", "yes_no", "no"),
    (4, "satisfaction", "您对我行服务的总体满意度（1-5 分）", "rating", "low"),
    (5, "comment", "其他意见或建议（选填）", "text", ""),
]


def seed(apps, schema_editor):
    SmsTemplate = apps.get_model("workspace", "SmsTemplate")
    Question = apps.get_model("workspace", "QuestionnaireQuestion")
    for code, kind, body in SMS_TEMPLATES:
        SmsTemplate.objects.get_or_create(code=code, defaults={"kind": kind, "body": body})
    if not Question.objects.exists():
        for order, code, text, answer_type, action_if in QUESTIONS:
            Question.objects.create(
                kind="", order=order, code=code, text=text, answer_type=answer_type,
                action_if=action_if,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
