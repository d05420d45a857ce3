"""UI strings of the Data tab."""

HELP = ("Curate a training set: load datasets and combine them, remove duplicates (exact, near and semantic), "
        "filter by rules, reward models or an LLM judge, explore the topics, then export. Every run is a recipe "
        "that `python -m lab data run recipe.yaml --out PATH` reruns headless with exactly the same rows.")
LOAD = "1 · Load"
FILTER = "2 · Filter pipeline"
REVIEW = "3 · Review"
EXPLORE = "4 · Explore"
EXPORT = "5 · Export and publish"
FILES = "Upload data files (.jsonl, .json, .csv, .parquet)"
HUB_ID = "…or a Hub dataset id"
NEED_HUB_ID = "Type one such as user/name into '…or a Hub dataset id', then stream a preview."
MAPPING = ("**Map the columns.** {why} Pick the format your data follows and which column holds each of its "
           "fields, then apply.")
LOADED = "Loaded **{rows}** rows ({form} form): {sources}."
SHORT_ROWS = "⚠️ **Fuzzy dedup**: {warning}"
RECIPE = "Recipe (what `python -m lab data run` reruns)"
RAN = "**{rows_out}** of {rows_in} rows kept. Review the funnel below, then export."
JOB_STARTED = "This run is large or loads models, so it runs as job `{job}` (also in the Jobs tab). The review " \
              "appears here when it finishes."
EXPORTED = "Saved the dataset artifact `{folder}`. Download it below, or publish it to the Hub."
EXPLORE_HELP = ("Clusters use the **Drop clusters** step's settings (key, k, seed), so dropping a cluster here and "
                "running again removes exactly the rows shown.")
NO_SCORES = "No scores yet: switch on the reward model or the LLM judge step."
CLUSTER_DROPPED = ("Cluster {n} will be dropped: the **Drop clusters** step now drops {drops}. Press **Run filters** "
                   "to apply it.")
CLUSTER_KEPT = "Cluster {n} is kept: the **Drop clusters** step now drops {drops}. Press **Run filters** to apply it."
JUDGE_KEY = "API key (this page only)"
JUDGE_KEY_INFO = ("The endpoint's key for the LLM judge: sent to that endpoint only, for runs and explorations you "
                  "start from this page; never saved, never in the recipe. Empty: your Hugging Face sign-in for a "
                  "Hugging Face endpoint, no key elsewhere.")
STARTERS = "Start from a ready-made dataset (one click loads it)"
STARTERS_INFO = "Or upload your own files, or name any Hub dataset, below."
