"""Errors that carry what went wrong, where, and in both languages."""
from __future__ import annotations


class FileRejected(Exception):
    """The whole file is refused (empty, wrong encoding, missing columns, ...)."""

    def __init__(self, rule: str, reason: str, reason_zh: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.reason_zh = reason_zh


class ValueRejected(ValueError):
    """One value breaks the contract; the validator adds row and column."""

    def __init__(self, rule: str, reason: str, reason_zh: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.reason_zh = reason_zh


class ValueWarning(Exception):
    """A value that is accepted but an auditor should see (e.g. an early pilot USCC)."""

    def __init__(self, rule: str, reason: str, reason_zh: str, value: object):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.reason_zh = reason_zh
        self.value = value


def printable(text: str, limit: int = 200) -> str:
    """A name or value safe to print and store: control characters, undecodable bytes and
    lone surrogates shown escaped (\\n, \\x1b, \\udcff), long text cut with its length stated."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return escaped if len(escaped) <= limit else f"{escaped[:limit]}… ({len(text)} characters)"


def unexpected(exc: BaseException) -> FileRejected:
    """Anything a reader or the COPY raised that no rule foresaw: the file is refused, the feed goes on."""
    detail = printable(f"{type(exc).__name__}: {exc}", 500)
    return FileRejected("unreadable_file", f"the file could not be loaded: {detail}; check the file or report it",
                        f"文件无法加载：{detail}")
