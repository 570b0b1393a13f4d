"""Every action the audit log may record, ``noun.verb``, with the words the audit-log page shows.

``audit()`` refuses an action that is not listed here, so a typo cannot start a second spelling
of the same thing. Adding an action means adding a member below."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    # Sign-in and staff accounts
    AUTH_LOGIN = "auth.login", _("登录")
    AUTH_LOGOUT = "auth.logout", _("退出登录")
    AUTH_LOGIN_FAIL = "auth.login_fail", _("登录失败")
    AUTH_LOCK_OUT = "auth.lock_out", _("账户锁定")
    USER_CREATE = "user.create", _("新建用户")
    USER_CHANGE = "user.change", _("修改用户")
    USER_ACCESS_CHANGE = "user.access_change", _("修改用户角色与权限")
    USER_OTP_ENROLL = "user.otp_enroll", _("绑定动态口令")
    USER_OTP_VERIFY = "user.otp_verify", _("动态口令验证通过")
    USER_OTP_FAIL = "user.otp_fail", _("动态口令验证失败")
    SERVICE_CLIENT_CREATE = "service_client.create", _("新建接口客户端")
    SERVICE_CLIENT_REVOKE = "service_client.revoke", _("吊销接口客户端")
    # Personal data
    PII_REVEAL = "pii.reveal", _("查看完整个人信息")
    EXPORT_DOWNLOAD = "export.download", _("导出数据")
    # Core banking: customers, accounts, events
    CUSTOMER_CREATE = "customer.create", _("新建客户")
    CUSTOMER_UPDATE = "customer.update", _("更新客户")
    CUSTOMER_OPT_OUT = "customer.opt_out", _("客户退订")
    ACCOUNT_CREATE = "account.create", _("新建账户")
    ACCOUNT_UPDATE = "account.update", _("更新账户")
    EVENT_INGEST = "event.ingest", _("接收账户事件")
    EVENT_REGISTER = "event.register", _("柜面登记特殊事件")
    EVENT_RAISE = "event.raise", _("系统生成账户事件")
    # Visits
    VISIT_CLAIM = "visit.claim", _("领取回访")
    VISIT_ATTEMPT = "visit.attempt", _("记录联系尝试")
    VISIT_COMPLETE = "visit.complete", _("完成回访")
    VISIT_CANCEL = "visit.cancel", _("取消回访")
    VISIT_FALL_BACK = "visit.fall_back", _("转下一联系渠道")
    VISIT_GIVE_UP = "visit.give_up", _("标记无法联系")
    VISIT_SMS_WRONG = "visit.sms_wrong", _("客户短信回复信息有误")
    RECORD_AMEND = "record.amend", _("更正回访记录")
    SMS_QUEUE = "sms.queue", _("短信排队")
    QUESTIONNAIRE_INVITE = "questionnaire.invite", _("发送线上问卷")
    QUESTIONNAIRE_SUBMIT = "questionnaire.submit", _("客户提交线上问卷")
    # Escalations
    ESCALATION_OPEN = "escalation.open", _("转办")
    ESCALATION_ACCEPT = "escalation.accept", _("受理转办")
    ESCALATION_RESOLVE = "escalation.resolve", _("处理转办")
    ESCALATION_REPLY = "escalation.reply", _("回复客户")
    ESCALATION_CLOSE = "escalation.close", _("关闭转办")
    ESCALATION_REOPEN = "escalation.reopen", _("重开转办")
    ESCALATION_TRANSFER = "escalation.transfer", _("改派部门")
    ESCALATION_EXTEND = "escalation.extend", _("延长时限")
    ESCALATION_OVERDUE = "escalation.overdue", _("转办超时")
    # Supervision
    SAMPLE_DRAW = "sample.draw", _("抽取样本")
    SAMPLE_OPEN = "sample.open", _("开始抽检")
    SAMPLE_VERIFY = "sample.verify", _("复核抽样")
    REVIEW_SUBMIT = "review.submit", _("提交抽检评审")
    CORRECTIVE_ACTION_ACKNOWLEDGE = "corrective_action.acknowledge", _("确认整改")
    COMPLAINT_REGISTER = "complaint.register", _("登记投诉")
    COMPLAINT_LINK = "complaint.link", _("关联投诉")
    COMPLAINT_ASSIGN = "complaint.assign", _("指派投诉调查")
    COMPLAINT_CLASSIFY = "complaint.classify", _("投诉分类")
    COMPLAINT_EXTEND = "complaint.extend", _("延长投诉期限")
    COMPLAINT_CHANGE_REQUEST = "complaint.change_request", _("申请投诉复杂认定或延期")
    COMPLAINT_CHANGE_REJECT = "complaint.change_reject", _("驳回投诉复杂认定或延期申请")
    COMPLAINT_OVERDUE = "complaint.overdue", _("投诉超过答复期限")
    COMPLAINT_ANSWER = "complaint.answer", _("答复投诉")
    TRAINING_COURSE_CREATE = "training_course.create", _("新建培训课程")
    TRAINING_ATTENDANCE_RECORD = "training_attendance.record", _("记录培训出勤")
    ASSESSMENT_COMPUTE = "assessment.compute", _("计算月度考核")
    # Compliance
    DESTRUCTION_DRAFT = "destruction.draft", _("起草销毁清单")
    DESTRUCTION_APPROVE = "destruction.approve", _("批准销毁清单")
    DESTRUCTION_EXECUTE = "destruction.execute", _("执行销毁")
    BACKUP_CREATE = "backup.create", _("备份")
    BACKUP_RESTORE = "backup.restore", _("恢复备份")
    # Reference data
    CALENDAR_YEAR_LOAD = "calendar_year.load", _("导入节假日安排")


class UnknownAuditAction(ValueError):
    """An action outside the registry: a programming error, never written to the log."""
