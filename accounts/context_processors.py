from django.conf import settings

from accounts.permissions import role_of


def staff(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"role": None}
    return {"role": role_of(user), "session_seconds": settings.SESSION_COOKIE_AGE}
