"""The fake Hub's Jobs API, as HfApi.run_job and friends use it (the Train tab's Hugging Face Jobs path)."""
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError


def test_run_inspect_logs_cancel(fake_hub):
    api = HfApi(endpoint=fake_hub.url, token=fake_hub.token)
    job = api.run_job(image="pytorch/pytorch:2.6.0-cuda12.4-cudnn9-devel", command=["python", "-m", "lab", "train"],
                      env={"LAB_DEMO": "0"}, secrets={"HF_TOKEN": "hf_secret"}, flavor="a10g-small", timeout="2h")
    spec = fake_hub.jobs[job.id]["spec"]
    assert spec["dockerImage"].startswith("pytorch/") and spec["command"] == ["python", "-m", "lab", "train"]
    assert spec["flavor"] == "a10g-small" and spec["environment"] == {"LAB_DEMO": "0"}
    assert spec["secrets"] == {"HF_TOKEN": "hf_secret"} and spec["timeoutSeconds"] == 7200
    assert job.secrets is None  # the Hub does not echo secret values
    assert api.inspect_job(job_id=job.id).status.stage == "RUNNING"
    fake_hub.finish_job(job.id, "COMPLETED", logs=["step 1 loss 2.0", "done"])
    assert api.inspect_job(job_id=job.id).status.stage == "COMPLETED"
    assert list(api.fetch_job_logs(job_id=job.id)) == ["step 1 loss 2.0", "done"]
    # list_jobs() without namespace asks the module-level whoami (default endpoint, no token): pass it
    assert [j.id for j in api.list_jobs(namespace=fake_hub.user)] == [job.id]
    space_job = api.run_job(image="hf.co/spaces/me/lab", command=["echo"])
    assert fake_hub.jobs[space_job.id]["spec"]["spaceId"] == "me/lab"
    api.cancel_job(job_id=space_job.id)
    assert api.inspect_job(job_id=space_job.id).status.stage == "CANCELED"
    with pytest.raises(HfHubHTTPError):
        HfApi(endpoint=fake_hub.url, token="hf_wrong").run_job(image="x", command=["y"], namespace="tester")
