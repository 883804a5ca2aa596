"""Error types. A bad case file is a CaseError; everything else the CLI reports is a HarnessError."""

from __future__ import annotations


class HarnessError(Exception):
    """A usage or environment problem the CLI reports in one line with exit code 2."""


class CaseError(HarnessError):
    """One problem in one case file, located by file, line, case id and field."""

    def __init__(
        self,
        path: str,
        line: int | None,
        case_id: str | None,
        field: str | None,
        message: str,
    ) -> None:
        self.path, self.line, self.case_id, self.field, self.message = (
            path,
            line,
            case_id,
            field,
            message,
        )
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        parts = [printable(where)]
        if self.case_id:
            parts.append(f"case '{printable(self.case_id)}'")
        if self.field:
            parts.append(printable(self.field))
        return ": ".join(parts) + f": {self.message}"


def printable(text: str) -> str:
    """Text with control and bidi characters written as escapes, so that a hostile name cannot
    move the terminal's cursor or reorder the line it is printed on."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


class CaseErrors(HarnessError):
    """Several CaseErrors found in one pass; printed one per line."""

    def __init__(self, errors: list[CaseError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
