"""Accuracy logs as a submission carries them: the sha256 of the full log appended to
accuracy.txt as ``hash=<hex>``, and the log cut to its first and last 4 KiB (the
submission checker refuses logs over 10 KiB). Works on the copy; the source is only read.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

VIEWABLE = 4096
MAX_SIZE = 10 * 1024
ELISION = b"\n\n...\n\n"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def truncated_copy(source: Path, log_dest: Path, accuracy_txt: Path) -> str:
    """Copy ``source`` to ``log_dest`` truncated, and append its hash to ``accuracy_txt``
    (created if absent). Returns the hash."""
    digest = sha256(source)
    size = source.stat().st_size
    log_dest.parent.mkdir(parents=True, exist_ok=True)
    if size < VIEWABLE:
        shutil.copyfile(source, log_dest)
    else:
        with open(source, "rb") as src:
            head = src.read(VIEWABLE)
            src.seek(size - VIEWABLE)
            tail = src.read(VIEWABLE)
        log_dest.write_bytes(head + ELISION + tail)
    text = accuracy_txt.read_text(encoding="utf-8") if accuracy_txt.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    accuracy_txt.write_text(f"{text}\nhash={digest}\n" if text else f"hash={digest}\n",
                            encoding="utf-8")
    return digest
