"""Conversions between Python tables / headers and the engine's plain forms.

The C extension takes a table as a list of ``(name, ndarray)`` columns and a
FITS header as bytes of 80-character cards; this module makes those from
astropy Tables, dicts of arrays, numpy structured arrays and pandas
DataFrames, and astropy Headers or WCS objects, and builds the astropy Table
of the results.
"""

import numpy as np


def columns_of(table, what="detections"):
    """The (name, array) columns of a table-like object, in column order.

    Accepts an astropy Table, a dict of array-likes, a numpy structured
    array, or a pandas DataFrame.  Unicode strings become bytes (UTF-8,
    fixed width); masked values are filled (NaN for floats).  Raises
    TypeError for anything else, naming `what`.
    """
    if isinstance(table, np.ndarray) and table.dtype.names:
        items = [(n, table[n]) for n in table.dtype.names]
    elif isinstance(table, dict):
        items = list(table.items())
    elif hasattr(table, "colnames") and hasattr(table, "columns"):  # astropy Table
        items = [(n, table[n]) for n in table.colnames]
    elif hasattr(table, "to_numpy") and hasattr(table, "columns"):  # pandas DataFrame
        items = [(str(n), table[n].to_numpy()) for n in table.columns]
    else:
        raise TypeError(f"{what}: expected an astropy Table, a dict of arrays, a structured "
                        f"array or a pandas DataFrame, not {type(table).__name__}")
    return [(str(name), _plain(np.asanyarray(col), what, name)) for name, col in items]


def _plain(col, what, name):
    if isinstance(col, np.ma.MaskedArray):
        fill = np.nan if col.dtype.kind == "f" else None
        col = col.filled(fill) if fill is not None else col.filled()
    col = np.asarray(col)
    if col.dtype.kind == "U":
        width = max(1, max((len(s.encode("utf-8")) for s in col.ravel()), default=1))
        col = np.char.encode(col, "utf-8").astype(f"S{width}")
    elif col.dtype.kind == "O":
        try:
            col = np.asarray([str(v) for v in col]).astype(str)
            return _plain(col, what, name)
        except Exception:  # pragma: no cover - str() of anything works
            raise TypeError(f"{what} column '{name}': object column not convertible")
    elif col.dtype.kind == "u" and col.dtype.itemsize > 1:
        col = col.astype(np.int64)
    elif col.dtype.kind == "i" and col.dtype.itemsize == 1:
        col = col.astype(np.int16)
    return col


def header_bytes(header):
    """FITS header cards as bytes (80 characters each, no END card).

    Accepts None, an astropy Header, an astropy WCS, a str or bytes of cards.
    """
    if header is None:
        return None
    if hasattr(header, "to_header"):  # astropy.wcs.WCS
        header = header.to_header(relax=True)
    if hasattr(header, "tostring"):  # astropy.io.fits.Header
        text = header.tostring(sep="", endcard=False, padding=False)
    elif isinstance(header, bytes):
        text = header.decode("ascii")
    elif isinstance(header, str):
        text = header
    else:
        raise TypeError(f"header: expected an astropy Header or WCS, not {type(header).__name__}")
    if len(text) % 80:
        raise ValueError(f"header: {len(text)} characters, not whole 80-character cards")
    return text.encode("ascii")


def result_table(columns, meta):
    """An astropy Table from the extension's (name, array, unit,
    description) columns and (key, value) metadata."""
    from astropy.table import Table, Column

    t = Table(meta={k: v for k, v in meta})
    for name, arr, unit, desc in columns:
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        t.add_column(Column(arr, name=name, unit=unit or None, description=desc or None),
                     copy=False)
    return t


def alert_table(columns, meta):
    """The alert score table: result_table, the identifier (the first
    column, -1 when unknown) masked where unknown and made the index, and
    the counts in meta as integers."""
    from astropy.table import MaskedColumn

    t = result_table(columns, meta)
    key = t.colnames[0]
    ids = t[key]
    t[key] = MaskedColumn(ids, mask=np.asarray(ids) < 0, name=key,
                          description=ids.description)
    for k in ("NALERTS", "NFLAGGED", "NSCORED"):
        if k in t.meta:
            t.meta[k] = int(t.meta[k])
    t.add_index(key)
    return t
