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
