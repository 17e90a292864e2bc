"""The web entry point (runserver, gunicorn, uwsgi).

Web processes, and only they, warm the assistant in the background (GRIDCARE_WARM_ASSISTANT=false
turns it off): building the knowledge index and loading the classifier takes seconds, which the
first customer to open the chat would otherwise wait for.
"""

import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
application = get_wsgi_application()



def _warm_up() -> None:
    from django.db import connection

    from gridcare.assistant.selectors import assistant_warm_up

    try:
        assistant_warm_up()
    finally:
        connection.close()  # the thread's own connection; requests open theirs


if os.environ.get("GRIDCARE_WARM_ASSISTANT", "true").strip().lower() not in ("0", "false", "no", "off"):
    threading.Thread(target=_warm_up, name="assistant-warm-up", daemon=True).start()
