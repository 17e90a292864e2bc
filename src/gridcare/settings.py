"""Django settings, read from environment variables so one build runs anywhere.

Variables: GRIDCARE_DATABASE_URL, GRIDCARE_SECRET_KEY, GRIDCARE_DEBUG, GRIDCARE_ALLOWED_HOSTS,
GRIDCARE_HOME (where `var/` lives; defaults to the current directory).
"""

import os
from pathlib import Path

import dj_database_url
from django.contrib.messages import constants as message_levels
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
HOME_DIR = Path(os.environ.get("GRIDCARE_HOME", Path.cwd())).resolve()
VAR_DIR = Path(os.environ.get("GRIDCARE_VAR_DIR", HOME_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("GRIDCARE_DEBUG", False)
SECRET_KEY = os.environ.get("GRIDCARE_SECRET_KEY", "insecure-dev-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("GRIDCARE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("GRIDCARE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("GRIDCARE_DATABASE_URL", f"sqlite:///{VAR_DIR / 'gridcare.sqlite3'}"),
        conn_max_age=int(os.environ.get("GRIDCARE_DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server and a billing run share the embedded database.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "bootstrap",
    "ninja",  # serves the OpenAPI docs' Swagger UI from the package, not a CDN
    "gridcare.access",
    "gridcare.customers",
    "gridcare.tariffs",
    "gridcare.metering",
    "gridcare.parameters",
    "gridcare.billing",
    "gridcare.notifications",
    "gridcare.payments",
    "gridcare.reconciliation",
    "gridcare.collections",
    "gridcare.service",
    "gridcare.assistant",
    "gridcare.visits",
    "gridcare.experience",
    "gridcare.kpi",
    "gridcare.jobs",
    "gridcare.web",
    "huey.contrib.djhuey",  # `manage run_huey` (what `gridcare worker` runs)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "gridcare.urls"
WSGI_APPLICATION = "gridcare.wsgi.application"
AUTH_USER_MODEL = "access.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "gridcare.web.navigation.navigation",
            ],
        },
    }
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Bootstrap (django-bootstrap-static) and htmx (django-htmx) ship their files inside Python packages,
# so the product works with no CDN and no Node build step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = VAR_DIR / "media"
INTERVAL_DATA_DIR = VAR_DIR / "intervals"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GRIDCARE_LOG_LEVEL", "WARNING")},
}

HUEY = {
    "huey_class": "huey.SqliteHuey",
    "name": "gridcare",
    "filename": str(VAR_DIR / "huey.sqlite3"),
    "immediate": _flag("GRIDCARE_HUEY_IMMEDIATE", False),
}

# Bootstrap's alert classes for Django's message levels (error → alert-danger).
MESSAGE_TAGS = {message_levels.ERROR: "danger", message_levels.DEBUG: "secondary"}
