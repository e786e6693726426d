"""Fault injection for the crash-and-resume tests: with ``KEEPLORA_FAULT=<point>`` set, the run SIGKILLs its
whole process group (launcher and every rank, like a pre-empted node) when it reaches that point.

Points: ``begin_task:<t>`` (before task t's gradient pass), ``step:<t>:<n>`` (after optimizer step n of task
t and its checkpoint), ``eval:<t>`` (after task t's model and bases are saved, before its evaluation row).
"""
from __future__ import annotations

import os
import signal

__all__ = ["fault_point"]


def fault_point(name: str) -> None:
    if os.environ.get("KEEPLORA_FAULT") == name:
        os.killpg(os.getpgid(0), signal.SIGKILL)
