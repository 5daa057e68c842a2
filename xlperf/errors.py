"""The few failures that cannot be reported as findings.

Everything a county can get wrong inside a form is a `Finding` (see findings.py).
These exceptions are for what stops us from reading at all: a bad form
definition, a file that is not a spreadsheet. Each carries a stable English
code and a Chinese message naming the file, so the CLI prints one line and
never a traceback.
"""
from __future__ import annotations


class XlperfError(Exception):
    """Base class: `code` is stable English, `message` is for the user (Chinese)."""

    code = "xlperf-error"

    def __init__(self, message: str, *, code: str | None = None, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        if code:
            self.code = code

    def __str__(self) -> str:
        where = f"{self.path}：" if self.path else ""
        return f"{where}{self.message} [{self.code}]"

    def __reduce__(self):  # keep picklable across process pools
        return (_rebuild, (type(self), self.message, self.code, self.path))


def _rebuild(cls, message, code, path):
    return cls(message, code=code, path=path)


class SpecError(XlperfError):
    """A form definition (templates/*.yaml) is malformed."""

    code = "spec-invalid"


class UnreadableFile(XlperfError):
    """A returned file cannot be opened as a spreadsheet at all."""

    code = "file-unreadable"


class WorkspaceError(XlperfError):
    """The workspace folder, its config or database is missing or inconsistent."""

    code = "workspace-invalid"


class RosterError(XlperfError):
    """The roster cannot be loaded; `problems` lists every bad row."""

    code = "roster-invalid"

    def __init__(self, message: str, *, problems: list[str] | None = None, code: str | None = None, path: str = "") -> None:
        super().__init__(message, code=code, path=path)
        self.problems = list(problems or [])

    def __reduce__(self):
        return (_rebuild_roster, (self.message, self.problems, self.code, self.path))


def _rebuild_roster(message, problems, code, path):
    return RosterError(message, problems=problems, code=code, path=path)
