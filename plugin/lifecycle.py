"""Process lifecycle shared by the engine's loops: set once the process is asked to stop."""

from __future__ import annotations

import threading

STOPPING = threading.Event()
"""Set by a worker's SIGTERM handler; loops that wait (dispatch lingering, in-place rate-limit
waits, the send stage) look at it and wind down instead of starting more work."""
