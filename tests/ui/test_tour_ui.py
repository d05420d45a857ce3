"""The tour panel in the app: it is there at the top, and it refuses (with a visible message, before writing
anything) on the public demo Space and, on any Space, for a visitor who is not signed in."""
from __future__ import annotations

import httpx
import pytest
from gradio_client import Client

from lab import settings


@pytest.fixture
def demo_app(lab_home, monkeypatch):
    """The app in-process as the public demo Space runs it (LAB_DEMO=1: heavy work off)."""
    from tests.ui.conftest import launch_app

    monkeypatch.setenv("LAB_DEMO", "1")
    settings.reset_caches()
    demo, url = launch_app()
    yield url
    demo.close()


def test_the_tour_panel_is_there_and_refuses_on_the_demo_space(demo_app, lab_home):
    cfg = httpx.get(demo_app + "config").json()
    ids = {c["props"].get("elem_id") for c in cfg["components"]}
    assert {"lab-tour", "lab-tour-start", "lab-tour-stages"} <= ids
    tour = next(c for c in cfg["components"] if c["props"].get("elem_id") == "lab-tour")
    assert tour["props"]["open"]  # an empty LAB_HOME: a newcomer sees it open
    from lab.ui.follow import URL_JS

    box = next(c["id"] for c in cfg["components"] if c["props"].get("elem_id") == "lab-tour-job")
    marks = [d for d in cfg["dependencies"] if [box, "change"] in d["targets"]]  # the tour's job id, once set,
    assert [(d["js"], d["backend_fn"]) for d in marks] == [(URL_JS, False)]  # goes into the address (?job=ID)
    stages = Client(demo_app, verbose=False).predict(api_name="/tour")[0]
    assert "off on this public demo Space" in stages and "Duplicate the Space" in stages
    assert not (lab_home / "tour").exists() and not (lab_home / "artifacts").exists()


def test_on_a_space_the_tour_needs_a_signed_in_visitor(lab_home, monkeypatch):
    from lab.ui.tour_panel import run_tour

    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()
    (first, *_), = list(run_tour(None))
    assert "needs you signed in" in first and "Sign in with Hugging Face" in first
    assert not (lab_home / "tour").exists()


def test_the_tour_runs_as_a_job_that_outlives_the_page(lab_home):
    """The page only follows the tour: closing it (Gradio closes the handler) leaves the tour running on the server."""
    import time

    from lab import jobs
    from lab.ui.tour_panel import run_tour

    page = run_tour(None)
    first = next(page)  # the first frame: the tour has started
    page.close()  # the browser went away
    tours = [j for j in jobs.list_jobs() if j.kind == "tour"]
    assert len(tours) == 1 and first[-1] == tours[0].id  # its id, for the page's address (?job=ID)
    time.sleep(1.0)
    tour = jobs.get_job(tours[0].id)
    assert tour.state in ("queued", "running"), tour.error  # still going without the page
    jobs.cancel(tour.id)  # the rest is tested with the real tour (tests/integration/test_tour.py)
    from lab.jobs.manager import wait

    assert wait(tour.id, 60).state == "cancelled"
    time.sleep(0.5)
    assert all(j.final for j in jobs.list_jobs())  # the stage job it had started (if any) was cancelled too
