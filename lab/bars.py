"""A library's own progress bar, reported to the lab: a job's progress moves by item (an lm-eval request, a GGUF
tensor loaded by transformers) instead of sitting on one message for minutes.

`reporting(module, report)` swaps the `tqdm` a library module calls for a subclass that also calls
`report(done, total, description)` on every step, shown or not (the lab hides most bars from job logs), and puts
the original back on leaving. Only the module named is affected, and only inside the `with`.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

Report = Callable[[int, int, str], None]


def _reporting_class(base, report: Report):
    class Reporting(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.lab_done, self.lab_iterating = 0, False
            self.lab_total = kwargs.get("total") or _length(args[0] if args else kwargs.get("iterable"))
            self.lab_desc = kwargs.get("desc") or ""

        def update(self, n=1):
            if not self.lab_iterating:  # while iterating, a shown bar calls update itself: counted below instead
                self.lab_done += n or 0
                report(self.lab_done, self.lab_total, self.lab_desc)
            return super().update(n)

        def __iter__(self):
            self.lab_iterating = True
            try:
                for item in super().__iter__():  # counted once the caller asks for the next item: this one is done
                    yield item
                    self.lab_done += 1
                    report(self.lab_done, self.lab_total, self.lab_desc)
            finally:
                self.lab_iterating = False

    return Reporting


def _length(iterable) -> int:
    try:
        return len(iterable)
    except TypeError:
        return 0


@contextmanager
def reporting(module, report: Report, name: str = "tqdm"):
    original = getattr(module, name)
    setattr(module, name, _reporting_class(original, report))
    try:
        yield
    finally:
        setattr(module, name, original)
