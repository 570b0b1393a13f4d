# Data migration: the default scripts, visit policies and event rules of SPEC §4.
from decimal import Decimal

from django.db import migrations

SCRIPTS = {
    "new_account": (
        "新开户回访话术",
        "您好，我是{bank_name}{branch_name}的回访专员{agent_name}，工号可在我行客服热线核实。"
        "请问是{customer_name}先生/女士吗？您近期在我行开立了尾号为{masked_account}的账户，"
        "我们做一次简短回访。请问账户是否为您本人申请开立？预留手机号{masked_mobile}、"
        "地址{address}是否准确？提醒您：我行工作人员不会索要您的密码或验证码，"
        "请勿向任何人透露；请定期修改密码，避免在公共无线网络下操作网银。感谢您的配合。",
    ),
    "periodic": (
        "定期回访话术",
        "您好，我是{bank_name}{branch_name}的回访专员{agent_name}。请问是{customer_name}"
        "先生/女士吗？我们对您尾号{masked_account}的账户进行定期回访，需要占用您几分钟。"
        "请问您的手机号{masked_mobile}和地址{address}是否有变化？近期账户使用是否正常，"
        "网上银行、手机银行和短信提醒使用情况如何？提醒您：切勿向任何人透露密码或验证码，"
        "请定期修改密码，避免在公共无线网络下操作。您对我行服务的满意度如何（1-5分）？",
    ),
    "special_event": (
        "特殊情况回访话术",
        "您好，我是{bank_name}{branch_name}的回访专员{agent_name}。请问是{customer_name}"
        "先生/女士吗？您尾号{masked_account}的账户近期有一笔需要与您核实的业务（大额或异常交易、"
        "预留信息变更或投诉），请问是否为您本人操作？如非本人操作，我们将立即为您转交安全部门处理。"
        "提醒您：我行不会索要您的密码或验证码，请勿向任何人透露；请定期修改密码。",
    ),
    "follow_up": (
        "跟踪回访话术",
        "您好，我是{bank_name}{branch_name}的回访专员{agent_name}。请问是{customer_name}"
        "先生/女士吗？关于您尾号{masked_account}的账户此前反映的问题，相关部门已处理完毕，我们回访一下您对处理结果是否满意。"
        "如仍有问题，我们会继续跟进直至解决。提醒您：请勿向任何人透露密码或验证码。",
    ),
}

# (kind, account_type, due_unit, due_amount, priority)
POLICIES = [
    ("new_account", "", "business_days", None, 60),
    ("periodic", "personal_savings", "cycle_months", 12, 30),
    ("periodic", "corporate", "cycle_months", 6, 30),
    ("periodic", "special", "cycle_months", 6, 30),
    ("special_event", "", "business_days", 1, 70),
    ("follow_up", "", "business_days", 1, 50),
]

# (code, name, rule_type, account_type, txn_kind, threshold, min_count, window_hours,
#  suspected_fraud, due_unit, due_amount, priority)
RULES = [
    ("cash_single_50k", "单笔现金交易≥5万元", "single_transaction", "", "cash", "50000", None, None, False, "business_days", 1, 70),
    ("personal_transfer_single_500k", "个人账户单笔转账≥50万元", "single_transaction", "personal_savings", "transfer", "500000", None, None, False, "business_days", 1, 70),
    ("corporate_transfer_single_2m", "对公账户单笔转账≥200万元", "single_transaction", "corporate", "transfer", "2000000", None, None, False, "business_days", 1, 70),
    ("cash_daily_50k", "当日累计现金交易≥5万元", "daily_cumulative", "", "cash", "50000", None, None, False, "business_days", 1, 70),
    ("personal_transfer_daily_500k", "个人账户当日累计转账≥50万元", "daily_cumulative", "personal_savings", "transfer", "500000", None, None, False, "business_days", 1, 70),
    ("corporate_transfer_daily_2m", "对公账户当日累计转账≥200万元", "daily_cumulative", "corporate", "transfer", "2000000", None, None, False, "business_days", 1, 70),
    ("small_burst_10_in_24h", "24小时内≥10笔1000元以下小额交易（疑似欺诈）", "small_burst", "", "", "1000", 10, 24, True, "working_hours", 2, 100),
    ("info_change", "预留信息变更", "info_change", "", "", None, None, None, False, "business_days", 1, 70),
    ("complaint", "客户投诉", "complaint", "", "", None, None, None, False, "business_days", 1, 70),
    ("account_closed", "销户（取消未完成回访）", "account_closed", "", "", None, None, None, False, "business_days", 1, 0),
]


def seed(apps, schema_editor):
    Script = apps.get_model("visits", "Script")
    VisitPolicy = apps.get_model("visits", "VisitPolicy")
    EventRule = apps.get_model("visits", "EventRule")
    scripts = {}
    for kind, (title, body) in SCRIPTS.items():
        scripts[kind], _ = Script.objects.get_or_create(
            kind=kind, language="zh-hans", version=1, defaults={"title": title, "body": body}
        )
    new_account_days = 5  # SPEC §4: within 5 business days of opening
    for kind, account_type, unit, amount, priority in POLICIES:
        VisitPolicy.objects.get_or_create(
            kind=kind,
            account_type=account_type,
            risk_level="",
            is_active=True,
            defaults={
                "due_unit": unit,
                "due_amount": amount if amount is not None else new_account_days,
                "halve_for_high_risk": kind == "periodic",
                "priority": priority,
                "preferred_channel": "phone",
                "script": scripts[kind],
            },
        )
    for (code, name, rule_type, account_type, txn_kind, threshold, min_count, window,
         fraud, unit, amount, priority) in RULES:
        EventRule.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "rule_type": rule_type,
                "account_type": account_type,
                "txn_kind": txn_kind,
                "threshold": Decimal(threshold) if threshold else None,
                "min_count": min_count,
                "window_hours": window,
                "suspected_fraud": fraud,
                "due_unit": unit,
                "due_amount": amount,
                "priority": priority,
            },
        )


class Migration(migrations.Migration):

    dependencies = [
        ("visits", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
