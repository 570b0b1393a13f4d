import re

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.models import PasswordHistory


class ComplexityValidator:
    """Password must mix at least three of: lower case, upper case, digits, symbols
    (the MLPS level-3 practice; see README on why this departs from OWASP ASVS)."""

    classes = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")

    def validate(self, password, user=None):
        if sum(1 for pattern in self.classes if re.search(pattern, password)) < 3:
            raise ValidationError(
                _("密码须包含大写字母、小写字母、数字、符号中的至少三类。"),
                code="password_too_simple",
            )

    def get_help_text(self):
        return _("密码须包含大写字母、小写字母、数字、符号中的至少三类。")


_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)


class CommonPatternValidator:
    """Beyond Django's list of common passwords: a common word dressed up with capitals, digits,
    symbols or look-alike characters ("Password123!", "P@ssw0rd2026", "Admin-2026!") is as
    guessable as the word itself. The letters left after undoing the dressing are checked
    against Django's list and the names of this product."""

    extra_words = ("callback", "huifang", "bank", "yinhang", "admin", "qwerty", "welcome")

    def __init__(self):
        self._common = CommonPasswordValidator().passwords

    def _core(self, password: str) -> str:
        # Digits and symbols around the word are dressing; inside it they stand for letters.
        word = re.sub(r"^[^A-Za-z]+|[^A-Za-z]+$", "", password).lower()
        return re.sub(r"[^a-z]", "", word.translate(_LEET))

    def validate(self, password, user=None):
        core = self._core(password)
        stripped = re.sub(r"[^a-z]", "", password.lower())
        for candidate in {core, stripped}:
            if len(candidate) < 4 or candidate in self._common or candidate in self.extra_words:
                raise ValidationError(
                    _("密码过于常见：常用单词加上数字或符号很容易被猜到。"),
                    code="password_common_pattern",
                )

    def get_help_text(self):
        return _("不能是常用单词加上数字或符号的组合。")


class PasswordHistoryValidator:
    """No reuse of the current password or of the last ``keep`` ones (hashes kept in
    ``PasswordHistory``, written when a password changes)."""

    def __init__(self, keep: int = 5):
        self.keep = keep

    def validate(self, password, user=None):
        if user is None or user.pk is None:
            return
        previous = list(
            PasswordHistory.objects.filter(user=user)
            .order_by("-created_at", "-pk")
            .values_list("password", flat=True)[: self.keep]
        )
        current = (
            get_user_model()._base_manager.filter(pk=user.pk).values_list("password", flat=True)
        )
        for encoded in [*current, *previous]:
            if encoded and check_password(password, encoded):
                raise ValidationError(
                    _("新密码不能与最近 %(n)d 次使用过的密码相同。") % {"n": self.keep},
                    code="password_reused",
                )

    def get_help_text(self):
        return _("不能与最近 %(n)d 次使用过的密码相同。") % {"n": self.keep}
