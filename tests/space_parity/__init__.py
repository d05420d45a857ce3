"""Space build parity: the app installed from requirements.txt alone (what a Space installs), run in Space mode
against the fake Hub, doing what a new user does first: sign in, the tour, a semantic dedup, a chat.

Run it with `python -m tests.space_parity` (CI runs it after the test suite). Not collected by pytest.
"""
