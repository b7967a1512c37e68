"""Read tensor files that may be damaged or hostile: coded problems, never pickled code.

``torch.load(weights_only=True)`` refuses pickled objects other than tensors and plain
containers, but its error text advises re-running with ``weights_only=False`` (which runs the
file's code). :func:`load_problem` turns such errors into one short line without that advice;
:func:`torch_load_plain` loads with ``weights_only=True`` and raises :class:`UnreadableFile`
carrying that line, for the caller to wrap in its own coded error.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

#: What torch's safe unpickler raises for pickled code or a file that is not a torch file.
_REFUSED = ("it is not a plain tensor file (pickled objects other than tensors, possibly code, "
            "or garbage)")


class UnreadableFile(Exception):
    """A file that cannot be read safely; ``problem`` says why in one line."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def load_problem(exc: BaseException) -> str:
    """One line saying why a tensor file did not load, without advice to load it unsafely."""
    text = str(exc).strip()
    if isinstance(exc, pickle.UnpicklingError) and "weights_only" in text.lower().replace(" ", "_"):
        details = [line.strip() for line in text.splitlines()
                   if line.strip() and not re.search(r"weights.only|torch\.load|file an issue",
                                                     line, flags=re.I)]
        return f"{_REFUSED}: {details[0]}" if details else _REFUSED
    if isinstance(exc, EOFError):
        return "the file is empty or ends early"
    first = text.splitlines()[0] if text else ""
    first = first.split(". ")[0].rstrip(".")
    if re.search(r"weights.only", first, flags=re.I):  # never pass on the unsafe advice
        first = ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def torch_load_plain(path: str | Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU.

    Raises:
        UnreadableFile: the file is missing, truncated, not a torch file, or holds pickled
            objects other than tensors and plain containers.
    """
    import torch

    try:
        with warnings.catch_warnings():  # its pickle-protocol notice means nothing to a user
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, TypeError, KeyError,
            AttributeError, ImportError, OSError) as exc:
        raise UnreadableFile(path, load_problem(exc)) from None
