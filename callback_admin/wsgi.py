import os

from django.core.wsgi import get_wsgi_application

from core.runtime import settle_after_startup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callback_admin.settings")
application = get_wsgi_application()
# Every view loaded, then what startup made is left out of garbage collection (core/runtime.py).
settle_after_startup()
