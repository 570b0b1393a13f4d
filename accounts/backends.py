"""The authentication backend of staff: Django's ``ModelBackend`` reading the user and their
staff profile (the role every page checks) in one query."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

UserModel = get_user_model()


class StaffModelBackend(ModelBackend):
    """Signs in exactly as ``ModelBackend`` (which it replaces in AUTHENTICATION_BACKENDS). On
    each request the session's user is read with a join to ``accounts_staffprofile``: without
    it every staff page made a second query for the role. A user without a profile (a
    superuser, an API client) gets none, as before. A session opened before the switch names
    ``ModelBackend``, which is no longer listed: its user signs in once more."""

    def get_user(self, user_id):
        try:
            user = UserModel._default_manager.select_related("profile").get(pk=user_id)
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
