"""Frame selectors: choose a video's frames at build time (``select: {method: NAME, ...}``).

Built in: ``shots`` (:mod:`.shots`), shot detection on tiny thumbnails with
quotas per shot and per video and runs of consecutive frames.
"""

from __future__ import annotations

from ..spec import register_selector
from .shots import shots_selector

register_selector("shots", shots_selector)
