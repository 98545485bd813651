"""Flask extensions, created unbound and attached in the application factory."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from plugin.api.openapi import ProblemApi, ProblemsPlugin
from plugin.api.openapi_ingest import BatchItemPlugin
from plugin.api.openapi_links import LinksPlugin
from plugin.storage import journey_models  # noqa: F401 - the journey tables join Base's metadata
from plugin.storage.models import Base

# the models are declared on storage's plain base (no Flask); Flask-SQLAlchemy takes it as it is
db = SQLAlchemy(model_class=Base)
migrate = Migrate()
# every error response of the OpenAPI document is the shared problem+json Problem (plugin/api/openapi.py)
# and responses carry the links of the API's workflows (plugin/api/openapi_links.py)
api = ProblemApi(spec_kwargs={"extra_plugins": [ProblemsPlugin(), LinksPlugin(), BatchItemPlugin()]})
