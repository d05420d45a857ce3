"""Baseline: exact + MinHash dedup the way a user writes it with datasketch (one MinHash.update per shingle).

The same text as the lab's "sample" key (prompt, then answer), the same normalization (lowercase, punctuation
to spaces), word pairs, 128 permutations, threshold 0.6, and datasketch's own recipe: query the LSH of the
kept rows, verify candidates with MinHash.jaccard, insert the row if it is new.
"""
import json
import re
import sys

from datasketch import MinHash, MinHashLSH

rows_path, out_path, removed_path = sys.argv[1:4]
THRESHOLD, PERMS, N = 0.6, 128, 2
rows = [json.loads(line) for line in open(rows_path, encoding="utf-8")]
texts = [(r["instruction"] + ("\n\n" + r["input"] if r["input"] else "")) + "\n" + r["output"] for r in rows]

removed, seen = set(), {}
for i, text in enumerate(texts):  # exact: case and whitespace folded
    key = " ".join(text.lower().split())
    if key in seen:
        removed.add(i)
    else:
        seen[key] = i

punct = re.compile(r"(?:[^\w\s]|_)+")
lsh, kept = MinHashLSH(threshold=THRESHOLD, num_perm=PERMS), {}
for i, text in enumerate(texts):
    if i in removed:
        continue
    words = punct.sub(" ", text.lower()).split()
    m = MinHash(num_perm=PERMS)
    for j in range(max(len(words) - N + 1, 1)):
        m.update(" ".join(words[j:j + N]).encode("utf-8"))
    if any(m.jaccard(kept[k]) >= THRESHOLD for k in lsh.query(m)):
        removed.add(i)
    else:
        lsh.insert(i, m)
        kept[i] = m

with open(out_path, "w", encoding="utf-8") as f:
    for i, row in enumerate(rows):
        if i not in removed:
            f.write(json.dumps(row) + "\n")
json.dump(sorted(removed), open(removed_path, "w"))
print("BENCH_RESULT " + json.dumps({"rows": len(rows), "duplicates": len(removed)}))
