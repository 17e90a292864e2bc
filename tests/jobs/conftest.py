import pytest


@pytest.fixture(autouse=True)
def _fresh(settings, monkeypatch):
    from gridcare.jobs.schedule import reset_cache
    from gridcare.notifications.backends import RecordingBackend
    from gridcare.notifications.policy import reset_caches

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {"sms": "gridcare.notifications.backends.RecordingBackend",
                                               "email": "gridcare.notifications.backends.RecordingBackend"}
    monkeypatch.setenv("GRIDCARE_JOBS_SCHEDULE", "")
    for reset in (reset_cache, reset_caches, RecordingBackend.reset):
        reset()
    yield
    for reset in (reset_cache, reset_caches, RecordingBackend.reset):
        reset()
