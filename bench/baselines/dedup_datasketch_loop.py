"""Baseline: exact + MinHash dedup the way a user writes it with datasketch (one MinHash.update per shingle).

`ROWS OUT REMOVED [--bulk]`: with --bulk, the signatures come from one `MinHash.bulk` call over all rows'
shingles instead (datasketch's batch API: the fastest plain datasketch), the rest is the same.
The same text as the lab's "sample" key (prompt, then answer), the same normalization (lowercase, punctuation
to spaces), word pairs, 128 permutations, threshold 0.6, and datasketch's own recipe: query the LSH of the
kept rows, verify candidates with MinHash.jaccard, insert the row if it is new; and, as the lab promises, a
candidate that passes is confirmed by the true Jaccard of the two shingle sets before the row counts as a duplicate.
"""
import json
import re
import sys

from datasketch import MinHash, MinHashLSH

rows_path, out_path, removed_path = sys.argv[1:4]
BULK = "--bulk" in sys.argv[4:]
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


def shingles(text: str) -> list[bytes]:
    words = punct.sub(" ", text.lower()).split()
    return [" ".join(words[j:j + N]).encode("utf-8") for j in range(max(len(words) - N + 1, 1))]


def true_jaccard(i: int, k: int) -> float:
    a, b = set(shingles(texts[i])), set(shingles(texts[k]))
    return len(a & b) / len(a | b)


todo = [i for i in range(len(texts)) if i not in removed]
if BULK:
    signatures = dict(zip(todo, MinHash.bulk([shingles(texts[i]) for i in todo], num_perm=PERMS)))
lsh, kept = MinHashLSH(threshold=THRESHOLD, num_perm=PERMS), {}
for i in todo:
    if BULK:
        m = signatures[i]
    else:
        m = MinHash(num_perm=PERMS)
        for s in shingles(texts[i]):
            m.update(s)
    if any(m.jaccard(kept[k]) >= THRESHOLD and true_jaccard(i, k) >= THRESHOLD for k in lsh.query(m)):
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
