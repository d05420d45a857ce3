"""The first-run tour: the whole loop offline (filter → SFT → SLERP → chat), each stage reported as it goes.

It runs as a job (lab.tour.jobs registers the `tour` kind); its SFT and merge stages submit their own jobs, whose
kinds their packages register (lab.train and lab.merge.editor import them)."""
from lab.tour.core import STAGES, Tour, TourEvent, TourRecipe, check_allowed, is_first_run

__all__ = ["STAGES", "Tour", "TourEvent", "TourRecipe", "check_allowed", "is_first_run"]
