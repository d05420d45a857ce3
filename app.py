"""Entry point: `python app.py` serves the lab on 0.0.0.0:$PORT (default 7860)."""
import os
import sys

from lab.errors import LabError

if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry from the lab
    try:
        from lab.ui.app import main

        main()
    except LabError as exc:
        sys.exit(f"The lab cannot start: {exc}")
