from django import template

from core.models import Notification

register = template.Library()


@register.simple_tag
def unread_notification_count(user) -> int:
    """One indexed count (notification_unread: user, read_at) per page."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
