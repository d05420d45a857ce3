"""The fake Hub's Jobs API routes (what HfApi.run_job / inspect_job / list_jobs / cancel_job / fetch_job_logs call).

Jobs never run: the fake Hub records the spec (command, image, flavor, env and secrets) for tests to assert
on, and a test moves a job along with FakeHub.finish_job().
"""
from __future__ import annotations

import json


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str = "", headers: dict | None = None):
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class JobRoutes:
    def r_job_hardware(self):
        self.send_json([{"name": n, "prettyName": n, "cpu": "8", "ram": "32 GB", "accelerator": None,
                         "unitCostMicroUSD": 1, "unitCostUSD": 0.0, "unitLabel": "minute"}
                        for n in ("cpu-basic", "t4-small", "a10g-small", "a100-large")])

    def r_job_run(self, ns):
        user = self.need_user()
        if ns != user:
            raise HubError(403, f"You cannot run jobs under {ns}")
        self.send_json(self.hub.run_job(ns, self.json_body()))

    def r_job_list(self, ns):
        self.need_user()
        self.send_json([j["info"] for j in self.hub.jobs.values() if j["info"]["owner"]["name"] == ns])

    def _job(self, ns, jid) -> dict:
        self.need_user()
        job = self.hub.jobs.get(jid)
        if job is None or job["info"]["owner"]["name"] != ns:
            raise HubError(404, f"Job {jid} not found")
        return job

    def r_job_inspect(self, ns, jid):
        self.send_json(self._job(ns, jid)["info"])

    def r_job_cancel(self, ns, jid):
        self._job(ns, jid)["info"]["status"] = {"stage": "CANCELED", "message": None}
        self.send_json({})

    def r_job_logs(self, ns, jid):
        job = self._job(ns, jid)
        data = "".join(f"data: {json.dumps({'data': line, 'timestamp': job['info']['createdAt']})}\n\n"
                       for line in job["logs"]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
