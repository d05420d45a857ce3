"""One pass of the datatrove engine per recipe step: datatrove's blocks, run by LocalPipelineExecutor (or chained
SlurmPipelineExecutors), reading the rows still kept and writing the kept and the removed rows.

Every stage of a pass uses the same `tasks` shards, so the document indices datatrove's dedup stages exchange
line up, and a row's shard says where it sits in the dataset's order.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab.data.dedup_fuzzy import lsh_params
from lab.errors import LabError

ROOT = Path(__file__).resolve().parents[2]
SLURM_POLL_S = 10
DEDUP_REASONS = {"exact_dedup": "exact duplicate", "fuzzy_dedup": "near duplicate (MinHash)"}


@dataclass
class Plan:
    """How the passes run: `tasks` shards, `workers` processes at once, or Slurm jobs on `slurm` (a partition)."""
    work: Path
    tasks: int = 4
    workers: int = -1
    slurm: str = ""
    slurm_time: str = "4:00:00"


def read_docs(folder: Path):
    """(row, metadata) of every document a pass wrote into folder."""
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line)
                yield int(doc["id"]), doc.get("metadata", {})


class Passes:
    def __init__(self, plan: Plan, form: str, log=print):
        self.plan, self.form, self.log = plan, form, log  # datatrove logs its own progress on stderr too

    # ---- one pass
    def run(self, pos: int, step, rows: Path) -> tuple[Path, list[dict], dict]:
        """Run step `pos` on the documents in `rows`; returns (folder of the kept rows, removed rows, what the
        funnel says of the step: {"note", "warning"})."""
        from datatrove.pipeline.readers import JsonlReader  # heavy: datatrove
        from datatrove.pipeline.writers import JsonlWriter  # heavy: datatrove

        base = self.plan.work / f"step{pos:02d}"
        kept, gone = base / "kept", base / "removed"
        reader = JsonlReader(str(rows), glob_pattern="*.jsonl", compression=None, add_file_path=False)
        writer = JsonlWriter(str(kept), output_filename="${rank}.jsonl", compression=None)
        removed = JsonlWriter(str(gone), output_filename="${rank}.jsonl", compression=None)
        said = {}
        if step.type == "exact_dedup":
            self._exact(step, base, reader, writer, removed)
        elif step.type == "fuzzy_dedup":
            said = self._fuzzy(step, base, reader, writer, removed)
        else:
            from lab.data.scale_steps import LabRule  # heavy: datatrove (through lab.data.scale_steps)

            rule = LabRule(step.model_dump(mode="json"), self.form, exclusion_writer=removed)
            self._stage(f"step{pos:02d}-rule", [reader, rule, writer])
        reason = DEDUP_REASONS.get(step.type)
        out = [{"row": row, "reason": reason or meta.get("filter_reason", step.label)} for row, meta in read_docs(gone)]
        return kept, out, said

    def _exact(self, step, base: Path, reader, writer, removed) -> None:
        from datatrove.pipeline.dedup.exact_dedup import (  # heavy: datatrove
            ExactDedupConfig, ExactDedupFilter, ExactDedupSignature, ExactFindDedups)

        from lab.data.scale_steps import FirstShardFirst, FoldedKey  # heavy: datatrove (through lab.data.scale_steps)

        config = ExactDedupConfig(content_getter=FoldedKey(self.form, step.key), document_priority=FirstShardFirst())
        sigs, dups = str(base / "sigs"), str(base / "dups")
        self._stage(f"{base.name}-exact-sigs", [reader, ExactDedupSignature(sigs, config=config)])
        self._stage(f"{base.name}-exact-find", [ExactFindDedups(sigs, dups, config=config)], tasks=1)
        self._stage(f"{base.name}-exact-filter", [reader, ExactDedupFilter(dups, config=config,
                                                                           exclusion_writer=removed), writer])

    def _fuzzy(self, step, base: Path, reader, writer, removed) -> dict:
        from datatrove.pipeline.dedup.minhash import (  # heavy: datatrove
            MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature)
        from datatrove.utils.hashing import HashConfig  # heavy: datatrove
        from datatrove.utils.text import TextNormConfig  # heavy: datatrove

        from lab.data.scale_steps import (  # heavy: datatrove (through lab.data.scale_steps)
            ConfirmPairs, KeepKeyTexts, KeyAsText, LabWords)

        bands, rows = lsh_params(step.threshold, step.num_perm)
        norm = TextNormConfig(lowercase=True, norm_whitespace=True, remove_punctuation=True,
                              norm_unicode_diacritics=False, norm_numbers=False)  # the lab's shingle words
        config = MinhashConfig(n_grams=step.shingle, num_buckets=bands, hashes_per_bucket=rows, seed=step.seed,
                               norm_config=norm, hash_config=HashConfig(hash_fc="sha1"))  # xxhash takes no str
        sigs, buckets, texts, confirmed, clusters = (str(base / x) for x in ("sigs", "buckets", "texts", "confirmed",
                                                                             "clusters"))
        self._stage(f"{base.name}-minhash-sigs", [reader, KeyAsText(self.form, step.key), KeepKeyTexts(texts),
                                                  MinhashDedupSignature(sigs, config=config, language=LabWords())])
        self._stage(f"{base.name}-minhash-buckets", [MinhashDedupBuckets(sigs, buckets, config=config)], tasks=bands)
        # each candidate pair confirmed by the true Jaccard of its shingle sets before any clustering
        self._stage(f"{base.name}-minhash-confirm", [ConfirmPairs(buckets, texts, confirmed, step.threshold,
                                                                  step.shingle)], tasks=1)
        self._stage(f"{base.name}-minhash-cluster", [MinhashDedupCluster(confirmed, clusters, config=config)],
                    tasks=1)
        self._stage(f"{base.name}-minhash-filter", [reader, MinhashDedupFilter(clusters, exclusion_writer=removed),
                                                    writer])
        stats = json.loads((base / "confirmed" / "stats.json").read_text())
        if stats["rejected"]:
            self.log(f"{base.name} fuzzy dedup: {stats['note']}")
        return {"note": stats["note"], "warning": stats["warning"]}

    # ---- executors
    def _stage(self, name: str, pipeline: list, tasks: int | None = None) -> None:
        tasks = tasks or self.plan.tasks
        logs = str(self.plan.work / "logs" / name)
        if self.plan.slurm:
            return self._slurm(name, pipeline, tasks, logs)
        from datatrove.executor import LocalPipelineExecutor  # heavy: datatrove

        cap = self.plan.workers if self.plan.workers > 0 else (os.cpu_count() or 1)  # default: one per core
        workers = min(cap, tasks)
        # fork: the workers inherit the modules already loaded (forkserver re-imports them: ~5 s a stage)
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logs, start_method="fork").run()

    def _slurm(self, name: str, pipeline: list, tasks: int, logs: str) -> None:
        """Submit the stage as a Slurm array job and wait for every task (each stage needs the previous one's
        files, and the lab's next step needs this one's)."""
        from datatrove.executor import SlurmPipelineExecutor  # heavy: datatrove

        env = f"cd {ROOT} && export PYTHONPATH={ROOT}"
        if sys.prefix != sys.base_prefix:  # the lab's venv, on every node (the work folder must be shared too)
            env += f" && source {Path(sys.prefix) / 'bin' / 'activate'}"
        executor = SlurmPipelineExecutor(pipeline, tasks=tasks, time=self.plan.slurm_time, partition=self.plan.slurm,
                                         logging_dir=logs, job_name=f"lab-{name}", env_command=env,
                                         workers=self.plan.workers, with_srun=False, mail_type="NONE")
        executor.run()
        self.log(f"{name}: Slurm job {executor.job_id}, {tasks} tasks")
        while executor.get_incomplete_ranks():
            if not _queued(executor.job_id) and executor.get_incomplete_ranks():
                raise LabError(f"Slurm job {executor.job_id} ({name}) ended with tasks unfinished.",
                               f"Read the task logs in {logs}/logs, fix the cause, then run again.", "slurm")
            time.sleep(SLURM_POLL_S)


def _queued(job_id: str) -> bool:
    """Whether Slurm still lists the job (pending or running)."""
    out = subprocess.run(["squeue", "-h", "-j", str(job_id)], capture_output=True, text=True)
    return out.returncode == 0 and bool(out.stdout.strip())
