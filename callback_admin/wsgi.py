import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callback_admin.settings")
application = get_wsgi_application()

# Every view loaded, then what startup made is left out of garbage collection (core/runtime.py).
from core.runtime import settle_after_startup  # noqa: E402 - needs the settings set up above

settle_after_startup()
