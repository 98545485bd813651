"""RQ queueing for the API and the worker entry points."""
