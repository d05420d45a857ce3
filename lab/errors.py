"""LabError: the one error type the UI shows. It says what went wrong and how to fix it."""


class LabError(Exception):
    """A user-facing error. `field` names the input at fault; `fix` says what to do."""

    def __init__(self, what: str, fix: str = "", field: str = ""):
        self.what = what
        self.fix = fix
        self.field = field
        super().__init__(self.message)

    @property
    def message(self) -> str:
        head = f"{self.field}: {self.what}" if self.field else self.what
        return f"{head} Fix: {self.fix}" if self.fix else head

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # keep what, fix and field across processes (pickle would pass only the message)
        return type(self), (self.what, self.fix, self.field)
