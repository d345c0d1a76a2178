"""The project's exception hierarchy.

    GameDayError                 root: every error the harness raises on purpose
    |-- InvalidInput             bad experiment, config or argument (exit code 2, nothing touched)
    |-- StackError               the local reference stack could not do what was asked
    `-- RunAborted               a run stopped part-way for a reason outside the experiment, e.g. its run
                                 directory could no longer be written (exit code 3; its rollbacks ran)
"""


class GameDayError(Exception):
    """Root of every error the harness raises on purpose; `hint` says what to do next."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\nhint: {self.hint}" if self.hint else text


class InvalidInput(GameDayError):
    """Input that cannot be used as given; raised before anything is touched (exit code 2)."""


class StackError(GameDayError):
    """A component of the local reference stack failed to start, stop or answer."""


class RunAborted(GameDayError):
    """A run stopped part-way (after its rollbacks and safety net ran) for a reason outside the experiment, such
    as a full disk or a run directory that turned read-only (exit code 3)."""
