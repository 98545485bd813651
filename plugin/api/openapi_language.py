"""The OpenAPI side of the problems' language: the ``Accept-Language`` parameter every operation
takes, and the ``Content-Language`` header of every problem."""

# problem details follow the request's language (SPEC §11 «Language», plugin/messages)
ACCEPT_LANGUAGE = {
    "in": "header",
    "name": "Accept-Language",
    "required": False,
    "schema": {"type": "string"},
    "description": "The language of problem details (title, detail, errors[].message): ru or en, "
    "q-values honoured; anything else, or none, is AUTOMATION_LANGUAGE (default ru)",
}
CONTENT_LANGUAGE = {
    "description": "The language the problem is written in",
    "schema": {"type": "string", "enum": ["ru", "en"]},
}


def with_accept_language(operation: dict) -> None:
    """Every operation takes ``Accept-Language`` (once)."""
    parameters = operation.setdefault("parameters", [])
    if not any(isinstance(p, dict) and p.get("name") == "Accept-Language" for p in parameters):
        parameters.append(dict(ACCEPT_LANGUAGE))
