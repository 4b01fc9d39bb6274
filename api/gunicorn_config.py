"""gunicorn's configuration for duban in production: ``gunicorn -c python:api.gunicorn_config 'api.wsgi:app'``
(add ``-w`` and ``--threads`` as the machine allows)."""

from api.serving import gunicorn_settings
from engine.settings import Settings

_settings = Settings.from_env()
globals().update(gunicorn_settings(_settings.max_request_kb * 1024, _settings.gc_tuning))
threads = 4
