"""The first-run tour: one call runs the whole loop offline (filter → SFT → SLERP → chat) and reports each stage.

Importing it registers nothing of its own: it submits the train and merge stages' jobs, whose kinds their
packages register (lab.train and lab.merge.editor import them)."""
from lab.tour.core import STAGES, Tour, TourEvent, TourRecipe, check_allowed, is_first_run

__all__ = ["STAGES", "Tour", "TourEvent", "TourRecipe", "check_allowed", "is_first_run"]
