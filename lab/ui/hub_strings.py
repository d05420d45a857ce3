"""Hub tab, picker and publish panel strings (apart from lab/ui/strings.py while the tabs are built in parallel)."""

HUB_HELP = ("Find a model or a dataset on the Hub (offline, this lists what is on this machine), read its facts "
            "without downloading weights, and publish what you made here.")
SEARCH_PLACEHOLDER = {False: "Search models, e.g. smollm2 or qwen2.5", True: "Search datasets, e.g. alpaca or dpo"}
PUBLISH_HELP = ("Publish an artifact with a card that records its parents, recipe and metrics. New repos are private "
                "unless you untick **Private**; an existing repo is left alone unless you tick **Overwrite**.")
REPO_INFO = "Letters, digits, '.', '_' and '-', at most 96 characters. NAME goes under your user; or OWNER/NAME."
PICKLE_WARNING = " · ⚠️ pickle (.bin) weights only: the lab will not load it"
GATE = "Only if the score on task … is at least the base's (optional)"
GATE_INFO = ("A regression gate: the push is refused, with both numbers, unless the artifact's latest score on this "
             "task (from the Evaluate tab or a train/merge job's evaluation) is at least its base's. Empty: no gate.")
