"""Fixtures of the action tests: the fakes of every external service (tests/fakes)."""

from tests.fakes.fixtures import *
