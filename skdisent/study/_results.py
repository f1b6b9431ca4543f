"""A study's folder: its identity (``study.json``) and its table of results (``results.csv``).

``results.csv`` is an append-only log with one row per finished fit, written by one
process (the one that runs the study) as each fit ends: each row is one ``write`` of one
line, flushed to disk, so a study killed at any moment leaves whole rows and at most a
partial last line, which the reader ignores and the next append cuts off. A row with a
column the header lacks (a parameter added to the grid) rewrites the file with the wider
header in a temporary file renamed over the old one. A lock file keeps two processes
from writing at once where the system has ``fcntl``.

Readers keep the newest row of each fit (``fit_id``), so a fit run again replaces its
earlier row without the file being rewritten.
"""

import contextlib
import csv
import datetime
import io
import json
import os
import pathlib
import re

import numpy as np

from .._version import __version__

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer is the caller's business
    fcntl = None

__all__ = ["RESULTS_FILE", "STUDY_FILE", "StudyMismatchError", "read_results", "ResultsFile",
           "check_identity"]

RESULTS_FILE = "results.csv"
STUDY_FILE = "study.json"
_INTEGER = re.compile(r"[+-]?\d+")
#: Columns that hold text, read as written (a model named "NA" stays a name).
TEXT_COLUMNS = frozenset({"fit_id", "setting", "model", "status", "error", "mig_estimator",
                          "device", "warnings", "params", "study", "finished_at"})


class StudyMismatchError(ValueError):
    """A results folder holds another study: different data or shared settings."""


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return " ".join(str(value).split())  # one physical line per row


def _value(text):
    if text is None or text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def read_results(path, *, as_frame=False):
    """The rows of a study's ``results.csv``, the newest of each fit, in file order.

    Safe to call while the study runs: a partial last line is left out.

    Parameters
    ----------
    path : str or path-like
        The study's folder, or its ``results.csv``.
    as_frame : bool, default=False
        Return a :class:`pandas.DataFrame` (pandas must be installed) instead of a
        list of dicts.

    Returns
    -------
    results : list of dict or pandas.DataFrame
        One record per fit; empty cells are None, numbers are int or float,
        ``True``/``False`` are bools, and text columns (``fit_id``, ``setting``, ``model``,
        ``status``, ``error``, ...) are strings.

    Raises
    ------
    FileNotFoundError
        When there is no ``results.csv`` there.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):  # a row cut short by a kill: not finished
        text = text[: text.rfind("\n") + 1]
    rows = {}
    for raw in csv.DictReader(io.StringIO(text)):
        if None in raw or None in raw.values() or not raw.get("fit_id"):
            continue  # a line that does not match the header
        rows.pop(raw["fit_id"], None)  # the newest row of a fit, at its own place
        rows[raw["fit_id"]] = {key: (cell or None) if key in TEXT_COLUMNS else _value(cell)
                               for key, cell in raw.items()}
    records = list(rows.values())
    if as_frame:
        import pandas as pd

        return pd.DataFrame.from_records(records)
    return records


@contextlib.contextmanager
def _locked(folder):
    if fcntl is None:
        yield
        return
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_line(handle, values):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    handle.write(buffer.getvalue())
    handle.flush()
    os.fsync(handle.fileno())


class ResultsFile:
    """The ``results.csv`` of one folder, appended one finished fit at a time.

    Parameters
    ----------
    folder : path-like
    columns : list of str
        The columns to start a new file with (a row may add others).
    """

    def __init__(self, folder, columns):
        self.folder = pathlib.Path(folder)
        self.path = self.folder / RESULTS_FILE
        self.columns = list(columns)

    def _header(self):
        with open(self.path, encoding="utf-8", newline="") as handle:
            return next(csv.reader([handle.readline()]), [])

    def append(self, row):
        """Write ``row`` (a dict) as one line; widen the header first if it lacks a key."""
        with _locked(self.folder):
            if self.path.exists():
                self._cut_partial_line()
            if not self.path.exists() or self.path.stat().st_size == 0:
                with open(self.path, "w", encoding="utf-8", newline="") as handle:
                    _write_line(handle, self.columns)
            header = self._header()
            extra = [key for key in row if key not in header]
            if extra:
                self._rewrite(header + extra)
                header = header + extra
            with open(self.path, "a", encoding="utf-8", newline="") as handle:
                _write_line(handle, [_cell(row.get(key)) for key in header])

    def _cut_partial_line(self):
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def _rewrite(self, header):
        rows = read_results(self.path)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow([_cell(row.get(key)) for key in header])
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


def _differences(old, new, prefix=""):
    keys = sorted(set(old) | set(new))
    found = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key} ({a!r} there, {b!r} here)")
    return found


def check_identity(folder, identity, study_id):
    """Write ``study.json`` in a new folder, or refuse a folder that holds another study.

    Parameters
    ----------
    folder : path-like
    identity : dict
        What every row of the study shares (JSON-ready).
    study_id : str
        Digest of ``identity``.

    Raises
    ------
    StudyMismatchError
        When the folder holds rows of a study with another identity, or rows and no
        ``study.json``.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study_file = folder / STUDY_FILE
    if study_file.exists():
        stored = json.loads(study_file.read_text(encoding="utf-8"))
        if stored.get("study_id") != study_id:
            changed = _differences(stored.get("identity", {}), identity)
            raise StudyMismatchError(
                f"{folder} holds the results of another study (its data or shared settings "
                f"differ: {'; '.join(changed) or 'its identity'}); rows of two studies are "
                "never mixed: use another folder, or run with the settings stored in "
                f"{study_file}"
            )
        return
    if (folder / RESULTS_FILE).exists():
        raise StudyMismatchError(
            f"{folder} holds a {RESULTS_FILE} but no {STUDY_FILE}: it is not a study folder "
            "this study can add rows to; use another folder"
        )
    document = {"study_id": study_id, "identity": identity, "skdisent": __version__,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds")}
    temporary = folder / f".{STUDY_FILE}.tmp"
    temporary.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n",
                         encoding="utf-8")
    os.replace(temporary, study_file)

