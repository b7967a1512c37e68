"""ConceptNet 5 importer: the official assertions CSV, and its download.

Input format (``conceptnet-assertions-5.7.0.csv.gz``, gzip'd UTF-8, no header, ~34M lines), one
assertion per line, five tab-separated columns::

    /a/[/r/UsedFor/,/c/en/shovel/n/,/c/en/dig/]<TAB>/r/UsedFor<TAB>/c/en/shovel/n<TAB>/c/en/dig
        <TAB>{"dataset": "/d/conceptnet/4/en", "weight": 2.0, ...}

1. edge URI (ignored);
2. relation URI: ``/r/<Name>`` (``/r/UsedFor``, ``/r/NotDesires``) or ``/r/dbpedia/<name>``;
3. start concept URI: ``/c/<language>/<label>[/<pos>[/<sense>...]]`` (``/c/en/dig/v``,
   ``/c/en/dig/v/wn/contact``);
4. end concept URI, same form; an ``/r/ExternalURL`` edge ends in a web URL instead;
5. JSON object with the edge's ``weight`` (a number; 1.0 when absent), sources and license.

Only edges whose two ends are in ``language`` are kept. A node name is the URI's label,
lower-cased, without the part-of-speech or sense suffix (``/c/en/dig/v/wn/contact`` -> ``dig``),
so one assertion can yield the same triple several times (once per sense) with different
weights: the graph builder merges duplicates, keeping the largest weight; this reader does not.

Checked on every line: the column count, the relation URI and that the start is a ``/c/`` URI.
Checked on kept lines only (to stream the 34M lines quickly): the shape of both concept URIs and
the JSON. Malformed lines go to ``bad_lines`` as ``path:line: problem``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from kgqa.errors import BadInputError, Errors, KGQAError
from kgqa.kg.importers.base import BadLines, Triple, iter_lines
from kgqa.utils.io import sha256_file

CONCEPTNET5_URL = (
    "https://s3.amazonaws.com/conceptnet/downloads/2019/edges/conceptnet-assertions-5.7.0.csv.gz"
)
#: ConceptNet publishes no checksum for its dumps, so none is pinned here: ``None`` skips the
#: check. Pin one (e.g. in a graph recipe) once a download has been verified by other means.
CONCEPTNET5_SHA256: str | None = None

_CHUNK = 1 << 20


def read_conceptnet5_csv(path: str | Path, *, language: str = "en",
                         bad_lines: BadLines | None = None) -> Iterator[Triple]:
    """Stream the ``language`` edges of a ConceptNet 5 assertions CSV (see the module docstring).

    Args:
        path: the assertions file (``.csv``, or compressed ``.csv.gz`` / ``.bz2`` / ``.xz``).
        language: ConceptNet language code that both ends must have.
        bad_lines: where malformed lines go; by default the first one raises ``BadInputError``.

    Yields:
        ``Triple(head, relation, tail, weight)``: relation without ``/r/`` (``UsedFor``,
        ``dbpedia/genre``), node names lower-cased labels, weight from the JSON.
    """
    bad_lines = bad_lines if bad_lines is not None else BadLines()
    prefix = f"/c/{language}/"
    for number, text in iter_lines(path, bad_lines):
        try:
            triple = _parse_line(text, prefix)
        except ValueError as exc:
            bad_lines.handle(BadInputError(path, number, str(exc)))
            continue
        if triple is not None:
            yield triple


def _parse_line(text: str, prefix: str) -> Triple | None:
    """One CSV line -> its triple, ``None`` for an edge outside the language; ``ValueError``."""
    columns = text.split("\t")
    if len(columns) != 5:
        raise ValueError(f"expected 5 tab-separated columns, found {len(columns)}")
    _, relation, start, end, info = columns
    if not relation.startswith("/r/") or len(relation) == 3:
        raise ValueError(f"relation {relation!r} is not a /r/ URI")
    if not start.startswith("/c/"):
        raise ValueError(f"start {start!r} is not a /c/ concept URI")
    if not (start.startswith(prefix) and end.startswith(prefix)):
        return None
    return Triple(concept_label(start), relation[3:], concept_label(end), parse_weight(info))


def concept_label(uri: str) -> str:
    """``/c/en/dig/v/wn/contact`` -> ``dig``: the lower-cased label, sense suffix dropped.

    Raises ``ValueError`` for a URI without a language and a label.
    """
    parts = uri.split("/", 4)
    if len(parts) < 4 or parts[1] != "c" or not parts[2] or not parts[3]:
        raise ValueError(f"malformed concept URI {uri!r} (expected /c/<language>/<label>[/...])")
    return parts[3].lower()


def parse_weight(info: str) -> float:
    """The ``weight`` of an edge's JSON info (1.0 when absent); ``ValueError`` if not usable."""
    try:
        data = json.loads(info)
    except json.JSONDecodeError as exc:
        raise ValueError(f"edge info is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"edge info is JSON {type(data).__name__}, expected an object")
    weight = data.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ValueError(f"edge weight {weight!r} is not a number")
    return float(weight)


def download_conceptnet5(dest_dir: str | Path, *, url: str = CONCEPTNET5_URL,
                         sha256: str | None = CONCEPTNET5_SHA256, progress: bool = True) -> Path:
    """Download the ConceptNet 5 assertions dump into ``dest_dir`` and return its path.

    The file is streamed to a temporary file beside the destination, hashed on the way, and
    renamed into place only when complete and (if ``sha256`` is given) verified, so an
    interrupted download never leaves a partial dump under the final name. A file already at
    the destination is returned without downloading if it matches ``sha256`` (or if
    ``sha256`` is ``None``); otherwise it is downloaded again.

    Args:
        dest_dir: folder for the file (created if missing); the name is the URL's last part.
        url: where to download from (any scheme urllib opens, ``file://`` included).
        sha256: expected hex digest; ``None`` skips the check (ConceptNet publishes none).
        progress: show a rich progress bar.

    Raises:
        KGQAError: ``E011`` when the downloaded file does not match ``sha256`` (it is deleted).
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / Path(urllib.parse.urlparse(url).path).name
    if target.is_file() and (sha256 is None or sha256_file(target) == sha256.lower()):
        return target
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            found = _copy_with_progress(response, out, progress, target.name)
        if sha256 is not None and found != sha256.lower():
            raise KGQAError(Errors.E011.format(path=url, expected=sha256.lower(), found=found))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _copy_with_progress(response, out, progress: bool, name: str) -> str:
    """Copy ``response`` to ``out`` in chunks; return the sha256 hex digest of the bytes."""
    from rich.progress import (BarColumn, DownloadColumn, Progress, TimeRemainingColumn,
                               TransferSpeedColumn)

    digest = hashlib.sha256()
    total = response.headers.get("Content-Length")
    columns = (f"[bold]{name}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("download", total=int(total) if total else None)
        while block := response.read(_CHUNK):
            digest.update(block)
            out.write(block)
            bar.advance(task, len(block))
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()
