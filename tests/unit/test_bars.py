"""A library's own tqdm bar reported to the lab item by item, shown or hidden, and put back afterwards."""
import types

import tqdm as tqdm_module

from lab.bars import reporting


def test_a_librarys_bar_reports_every_item_shown_or_hidden_and_is_restored():
    library = types.SimpleNamespace(tqdm=tqdm_module.tqdm)
    seen = []
    with reporting(library, lambda done, total, desc: seen.append((done, total, desc))):
        for disable in (False, True):  # a hidden bar (the lab hides most) counts the same
            list(library.tqdm(range(3), desc="tensors", disable=disable, mininterval=0, miniters=1))  # redrawn each
            bar = library.tqdm(total=2, desc="Running loglikelihood requests", disable=disable)
            bar.update(1)
            bar.update(1)
            bar.close()
    run = [(1, 3, "tensors"), (2, 3, "tensors"), (3, 3, "tensors"), (1, 2, "Running loglikelihood requests"),
           (2, 2, "Running loglikelihood requests")]
    assert seen == run + run
    assert library.tqdm is tqdm_module.tqdm
