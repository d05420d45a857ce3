"""What the app does once at start, and what it tells the user about it."""
from __future__ import annotations

from dataclasses import dataclass, field

from lab import jobs
from lab.auth import sequester_space_token
from lab.settings import get_settings


@dataclass
class StartupState:
    fresh_home: bool = False
    interrupted: list[str] = field(default_factory=list)

    @property
    def notice(self) -> str:
        s = get_settings()
        parts = []
        if self.fresh_home and s.on_space:
            parts.append("This Space started with an empty LAB_HOME: jobs and artifacts from before the restart "
                         "are gone (the Space has no persistent storage). Attach a storage volume, or turn on "
                         "Hub checkpointing in training so a run can resume from the Hub.")
        if self.interrupted:
            parts.append(f"{len(self.interrupted)} job(s) were interrupted by the restart: resume them from the "
                         "Jobs tab.")
        return " ".join(parts)


_state = StartupState()


def start() -> StartupState:
    """Keep the Space's own token away from visitors (lab.auth), note whether LAB_HOME was empty, then mark jobs
    whose worker is gone as interrupted."""
    global _state
    sequester_space_token()
    fresh = not get_settings().jobs_db.exists()
    _state = StartupState(fresh_home=fresh, interrupted=jobs.recover())
    return _state


def state() -> StartupState:
    return _state
