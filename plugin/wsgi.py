"""Entry points of the API servers: ``rsgi`` for granian (the default), ``app`` (WSGI) for gunicorn.

Built at import, as the servers expect: the Flask app, behind ``plugin.serving``'s
:class:`~plugin.serving.BufferedRSGI` (granian) or :func:`~plugin.serving.bounded_body`
(gunicorn); see that module.
"""

from __future__ import annotations

from plugin.accesslog import AccessLog, install_granian_redaction
from plugin.api.app import create_app
from plugin.config import read_timeout, switch
from plugin.processes import tune_gc
from plugin.serving import BufferedRSGI, bounded_body, loop_ingest

app = create_app()
tune_gc()
THREADS = app.config["API_THREADS"]  # AUTOMATION_API_THREADS, read with the rest of the configuration
# under gunicorn only (it acts on gunicorn's socket); slow bodies may hold half the threads
app.wsgi_app = bounded_body(
    app.wsgi_app, read_timeout(), max(1, THREADS // 2), app.config.get("MAX_CONTENT_LENGTH")
)
rsgi = BufferedRSGI(
    app,
    threads=THREADS,
    timeout=read_timeout(),
    max_body=app.config.get("MAX_CONTENT_LENGTH"),
    on_loop=loop_ingest(app),
    access_log=AccessLog() if switch("AUTOMATION_ACCESS_LOG") else None,  # granian's is off (processes.py)
)
install_granian_redaction()  # granian's own WSGI threads log through their logger
