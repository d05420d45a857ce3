"""UI strings in one place."""

TITLE = "The lab"
TAGLINE = "Curate data, fine-tune, merge, chat and publish: the whole post-training loop in one place."
DEMO_NOTE = ("This is the public demo: browsing, dataset previews and chat stay on, but training, merging and "
             "pushing are off. Duplicate the Space to a private GPU to use them.")
LOCAL_SIGNIN = "Locally, sign in with `HF_TOKEN` or `hf auth login`."
JOBS_HELP = ("Long work runs in the background: closing the tab does not stop it, and after an app restart "
             "interrupted jobs can be resumed.")
NO_JOBS = "No jobs yet. Start one from a tab, or prepare a model in the Models tab."
MODELS_HELP = "The default model runs offline. Any Hub id or local folder works too (safetensors only)."
ROLE_OWNER = " (the owner of this Space: you see every job and artifact, and can share them)"
ROLE_VISITOR = (" (a visitor: you see your own jobs and artifacts, and what the owner shared; your Hub calls use "
                "your own sign-in)")
