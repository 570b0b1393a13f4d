from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("客户与账户")

    def ready(self):
        from accounts.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, dispatch_uid="accounts.ensure_role_groups")
        from accounts import signals  # noqa: F401  (audit log of logins and user changes)
        from accounts.request_scope import scope_signals_connect

        scope_signals_connect()
