"""Marketing-automation node server: scenarios of event → conditions → actions."""

__version__ = "0.1.0"
