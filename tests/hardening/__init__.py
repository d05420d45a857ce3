"""Hardening (issue 10): one test per case. A case already proven elsewhere is referenced, not tested twice.

 1. Path traversal: tests/ui/test_security_routes.py (traversal, dotfiles, LAB_HOME files).
 2. Uploads: tests/ui/test_security_routes.py (size cap, .html/.svg/.js refused, never served as HTML).
 3. Token hygiene: test_token_hygiene.py.
 4. Sign-in: test_sign_in.py.
 5. Internal events: tests/ui/test_jobs_ui.py::test_internal_events_are_not_public.
 6. Unsafe loading: test_unsafe_loading.py (trust_remote_code, torch.load). `.bin`-only repos:
    tests/integration/test_hub_download.py::test_pickle_only_and_missing_repos_are_refused (no .bin byte is
    fetched), tests/integration/test_merge_hub.py::test_bin_only_and_mismatched_hub_models_are_refused and
    tests/integration/test_models.py::test_bin_only_repo_is_refused.
 7. Killed training worker: tests/integration/test_train_jobs.py::test_cancel_resume_kill_resume (SIGKILL after
    checkpoint 6, recover -> interrupted, resume logs "Resumed at step 6 of 8", metrics 1..8 without duplicates)
    and tests/ui/test_space_modes.py::test_restart_marks_a_dead_worker_interrupted_and_says_so (the restarted
    app marks the job interrupted and says so).
 8. Wiped LAB_HOME: tests/ui/test_space_modes.py::test_a_space_restarting_with_an_empty_home_says_earlier_jobs_are_gone
    and tests/integration/test_train_hub.py::test_resume_from_hub_checkpoint_after_wipe (pulls the checkpoint
    from the fake Hub, resumes at step 2 of 4).
 9. Load: test_load.py; p50/p95 while training: bench/suites/chat.py, pair chat_load_8_training.
10. Disk full during a merge: test_disk_full.py.
11. Hostile recipes: test_hostile_recipes.py.
12. Concurrent pushes: test_concurrent_push.py.
Also: the gradio pin and launch() settings: test_launch_settings.py.
"""
