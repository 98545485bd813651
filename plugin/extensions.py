"""Flask extensions, created unbound and attached in the application factory."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from plugin.api.openapi import ProblemApi, ProblemsPlugin

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
# every error response of the OpenAPI document is the shared problem+json Problem (plugin/api/openapi.py)
api = ProblemApi(spec_kwargs={"extra_plugins": [ProblemsPlugin()]})
