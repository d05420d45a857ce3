"""Exact and MinHash dedup, and the refusal filter, on the real Alpaca demo and on self-written fixtures."""
import json
import random
import re

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from lab.data import normalize, rules
from lab.data.dedup_exact import exact_duplicates
from lab.data.dedup_fuzzy import fuzzy_duplicates, near_duplicates, signatures
from lab.errors import LabError
from tests.unit.data_fixtures import alpaca_rows, perturbed_mix, sentences

WORDS = re.compile(r"(?:[^\w\s]|_)+")


def _alpaca_table(rows):
    from lab.data.formats import FORMATS, convert_rows

    return normalize.Table("messages", convert_rows(rows, FORMATS["alpaca"], {}, "test"), ["test"] * len(rows))


def _datasketch_signature(text: str, n: int, num_perm: int = 128) -> np.ndarray:
    words = WORDS.sub(" ", text.lower()).split()
    m = MinHash(num_perm=num_perm)
    for i in range(max(len(words) - n + 1, 1)):
        m.update(" ".join(words[i:i + n]).encode("utf-8"))
    return m.hashvalues


@pytest.mark.parametrize("key", ["prompt", "sample"])
def test_exact_dedup_on_alpaca_removes_the_14_surplus_copies(alpaca_path, key):
    rows = json.loads(alpaca_path.read_text())
    table = _alpaca_table(rows)
    dup = exact_duplicates(table.texts(key))
    removed = np.flatnonzero(dup >= 0)
    assert len(removed) == 14
    # each removed row repeats the instruction + input of the earlier row it points at, and 13 rows are kept
    for i in removed:
        a, b = rows[i], rows[dup[i]]
        assert dup[i] < i and (a["instruction"], a["input"]) == (b["instruction"], b["input"])
    assert len(set(dup[removed].tolist())) == 13


def test_exact_dedup_folds_case_and_whitespace():
    rows, expected = alpaca_rows()
    dup = exact_duplicates(_alpaca_table(rows).texts("sample"))
    assert (dup >= 0).sum() == expected["duplicates"]
    assert dup[16:20].tolist() == [0, 0, 5, 9]


def test_refusal_filter_on_alpaca_removes_the_21_rows(alpaca_path):
    rows = json.loads(alpaca_path.read_text())
    remove, found = rules.refusals(_alpaca_table(rows).texts("answer"), ["as an AI"])
    assert remove.sum() == 21
    assert all("as an ai" in rows[i]["output"].lower() for i in np.flatnonzero(remove))
    assert {f.lower() for f in found if f} == {"as an ai"}


def test_refusal_filter_on_a_fixture():
    rows, expected = alpaca_rows()
    remove, _ = rules.refusals(_alpaca_table(rows).texts("answer"), ["as an AI"])
    assert remove.sum() == expected["refusals"]


def test_signatures_are_datasketchs():
    texts = sentences(30, seed=3, words=25) + ["", "   ", "!!!", "one", "Two words", "ünï_cödé, x-y"]
    for n in (1, 2, 3):
        sig = signatures(texts, shingle=n)
        for i, text in enumerate(texts):
            assert np.array_equal(sig[i], _datasketch_signature(text, n)), (n, text)


def test_signatures_in_small_chunks_match(monkeypatch):
    from lab.data import dedup_fuzzy

    texts = sentences(50, seed=4, words=60)
    whole = signatures(texts)
    monkeypatch.setattr(dedup_fuzzy, "CHUNK_SHINGLES", 97)
    monkeypatch.setattr(dedup_fuzzy, "BATCH_ROWS", 7)
    assert np.array_equal(signatures(texts), whole)


def test_duplicates_match_a_datasketch_lsh_loop():
    """Query the kept rows' LSH, verify with MinHash.jaccard, insert if new: the same rows are removed."""
    rng = random.Random(1)
    base = sentences(60, seed=5, words=30)
    texts = base + [" ".join(rng.choice([w, w, w, "zebra"]) for w in rng.choice(base).split()) for _ in range(140)]
    rng.shuffle(texts)
    for threshold in (0.5, 0.8):
        dup, _, _ = near_duplicates(signatures(texts), threshold)
        lsh, kept, expected = MinHashLSH(threshold=threshold, num_perm=128), {}, []
        for i, text in enumerate(texts):
            m = MinHash(num_perm=128, hashvalues=_datasketch_signature(text, 2), scheme="affine32")
            if any(m.jaccard(kept[k]) >= threshold for k in lsh.query(m)):
                expected.append(i)
            else:
                lsh.insert(i, m)
                kept[i] = m
        assert np.flatnonzero(dup >= 0).tolist() == expected


def _recall_precision(originals):
    texts, family = perturbed_mix(originals)
    family = np.array(family)
    dup, _, _ = fuzzy_duplicates(texts)  # the defaults: word pairs, threshold 0.6, 128 permutations
    removed = np.flatnonzero(dup >= 0)
    correct = int((family[removed] == family[dup[removed]]).sum())
    return correct / (len(texts) - len(originals)), correct / max(1, len(removed))


def test_fuzzy_recall_and_precision_on_alpaca(alpaca_path):
    rows = json.loads(alpaca_path.read_text())
    texts = _alpaca_table(rows).texts("sample")
    originals = [texts[i] for i in np.flatnonzero(exact_duplicates(texts) < 0)]
    recall, precision = _recall_precision(originals)
    assert recall >= 0.95 and precision >= 0.99, (recall, precision)


def test_fuzzy_recall_and_precision_on_a_fixture():
    recall, precision = _recall_precision(sentences(300, seed=9, words=30))
    assert recall >= 0.95 and precision >= 0.99, (recall, precision)


def test_fuzzy_refuses_settings_lsh_cannot_use():
    from lab.errors import LabError

    with pytest.raises(LabError, match="threshold"):
        fuzzy_duplicates(["a b c", "a b d"], threshold=0.99, num_perm=16)


def test_lsh_params_and_permutations_are_datasketchs_without_importing_it():
    from lab.data.dedup_fuzzy import lsh_params, permutations

    for num_perm in (16, 64, 128, 256):
        a, b = MinHash(num_perm=num_perm, seed=3, scheme="affine32").permutations
        ours = permutations(num_perm, 3)
        assert np.array_equal(a.astype(np.uint32), ours[0]) and np.array_equal(b.astype(np.uint32), ours[1])
        for threshold in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
            try:
                lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
            except ValueError:  # fewer than 2 bands: the lab refuses it too, naming the field
                with pytest.raises(LabError, match="threshold"):
                    lsh_params.__wrapped__(threshold, num_perm)
                continue
            assert lsh_params.__wrapped__(threshold, num_perm) == (lsh.b, lsh.r), (threshold, num_perm)
