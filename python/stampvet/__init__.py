"""stampvet: real/bogus scoring and transient classification of
difference-image detections, from numpy.

The engine is stampvet's C library (libstampvet); this package is a thin
CPython extension over its public API (stampvet.h), never a second
implementation.  See doc/python.md.

    >>> import stampvet
    >>> model = stampvet.Model(path)                      # doctest: +SKIP
    >>> model.score(sci, ref, diff)                       # doctest: +SKIP
    >>> stage = stampvet.Stage(model=path, threads=2)     # doctest: +SKIP
    >>> table = stage.process(sci, ref, diff, detections, header=hdr)  # doctest: +SKIP
    >>> alerts = stampvet.score_alerts("ztf_alert.avro", model=path)  # doctest: +SKIP
"""

import os

import numpy as np

from . import _stampvet
from ._tables import alert_table, columns_of, header_bytes, result_table

__all__ = ["AlertScorer", "Model", "Stage", "Error", "params", "score_alerts", "version"]

Error = _stampvet.Error
version = _stampvet.version
__version__ = version


def params():
    """The stage's parameters: a list of dicts with key, type, default, min,
    max, choices and help (the table `stampvet run --dump-config` prints)."""
    return _stampvet.params()


class Model(_stampvet.Model):
    """A stampvet model file (``stampvet inspect`` describes one).

    Model(path) reads it; OSError or ValueError (naming the file) when it
    cannot.  Attributes: name, version, task ('realbogus', 'class',
    'lightcurve'), checksum, path, classes, features, input_shape (height,
    width, channels), channels (the stamps feeding each channel), stamp_size,
    provenance (dict).
    """

    def __init__(self, path):
        super().__init__(os.fspath(path))

    def __repr__(self):
        return (f"<stampvet.Model {self.name!r} task={self.task} classes={self.classes} "
                f"input_shape={self.input_shape}>")

    def score(self, sci=None, ref=None, diff=None, *, features=None, threads=1, batch=64):
        """Score one stamp triplet (2-D arrays) or a stack of them ([N, H, W]).

        sci, ref, diff: the science, reference and difference stamps as
        stored in the FITS cutouts (no flip), float32 or float64 in any byte
        order, NaN allowed; a stamp the model does not use may be None.
        features: for a multi-input model, the named features (a dict of
        scalars or N-arrays, or a structured array), matched to
        ``self.features`` by name (extra names are ignored).

        Returns float32 numpy values: for a real/bogus model, P(real) (a 0-d
        array for one triplet, shape (N,) for a stack); for a class model,
        the class probabilities in ``self.classes`` order (shape (C,) or
        (N, C)).  Raises ValueError for stamps of different shapes, wrong
        dimensions or missing features.  The GIL is released while the
        network runs; `threads` threads score the batch.
        """
        stack = None
        for a in (sci, ref, diff):
            if a is not None:
                stack = np.ndim(a) == 3
                break
        if stack is None:
            raise ValueError("score: no stamps given (sci, ref, diff)")
        n = len(next(a for a in (sci, ref, diff) if a is not None)) if stack else 1
        fv = self._feature_matrix(features, n)
        out = self._score(sci, ref, diff, fv, threads, batch)
        if self.task == "realbogus":
            out = out[:, 0]
        return out if stack else out[0]

    def _feature_matrix(self, features, n):
        names = self.features
        if not names:
            if features is not None:
                raise ValueError(f"model '{self.name}' takes no features")
            return None
        if features is None:
            raise ValueError(f"model '{self.name}' needs features: {', '.join(names)}")
        if isinstance(features, np.ndarray) and features.dtype.names:
            have = features.dtype.names
            get = features.__getitem__
        elif hasattr(features, "keys"):
            have = list(features.keys())
            get = features.__getitem__
        else:
            raise TypeError("features: expected a dict or a structured array of named features")
        missing = [f for f in names if f not in have]
        if missing:
            raise ValueError(f"features: missing {', '.join(repr(m) for m in missing)} "
                             f"(model '{self.name}' takes {', '.join(names)})")
        cols = []
        for f in names:
            v = np.asarray(get(f), dtype=np.float32).reshape(-1)
            if v.size == 1 and n > 1:
                v = np.full(n, v[0], np.float32)
            if v.size != n:
                raise ValueError(f"features: '{f}' has {v.size} values for {n} triplets")
            cols.append(v)
        return np.ascontiguousarray(np.stack(cols, axis=1))


def _param_text(key, value):
    if isinstance(value, Model):
        return value.path
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


class Stage(_stampvet.Stage):
    """The stampvet stage: cuts a stamp triplet around each detection of an
    exposure, scores it with the real/bogus model (and the class model) and
    returns the detections annotated, one row per input detection.

    Stage(model=None, class_model=None, **params): model / class_model are
    model files (or Model objects) and set the ``rb_model`` / ``class_model``
    parameters; every other keyword is one of the stage's parameters
    (``stampvet.params()``; e.g. preset='ztf', threads=2, rb_threshold=0.5),
    given as Python values.  An unknown parameter or a bad value raises
    ValueError naming it; an unreadable model raises OSError/ValueError
    naming the file.
    """

    def __init__(self, model=None, class_model=None, **params):
        kv = []
        if model is not None:
            kv.append(("rb_model", _param_text("rb_model", model)))
        if class_model is not None:
            kv.append(("class_model", _param_text("class_model", class_model)))
        kv += [(k, _param_text(k, v)) for k, v in params.items()]
        super().__init__(kv)
        self.params = dict(kv)

    def __repr__(self):
        cls = self.class_model["name"] if self.class_model else None
        return f"<stampvet.Stage rb_model={self.rb_model['name']!r} class_model={cls!r}>"

    def process(self, sci, ref, diff, detections, mask=None, header=None, *, history=None,
                exposure_id=None, band=None, mjd=None, survey=None):
        """Annotate the detections of one exposure.

        sci, ref, diff: 2-D images on one pixel grid (numpy, float32 or
        float64, any byte order; NaN = no data), indexed [y, x] as astropy
        reads FITS.  detections: an astropy Table, dict of arrays, structured
        array or pandas DataFrame with the columns the configuration names
        (e.g. the preset's xpos/ypos, or ra/dec with a WCS).  mask: optional
        2-D integer array, non-zero bits of ``mask_bits`` make a pixel bad.
        header: the FITS header carrying the WCS (astropy Header or WCS; or a
        tuple of three, one per image).  history: optional light-curve table
        for a light-curve model.

        Returns an astropy Table: every input row in input order with its
        columns, then the stage's (the score, REAL, class probabilities,
        CLASS, FLAGS, BADFRAC, XPIX, YPIX ...); the provenance (models and
        checksums, thresholds, configuration hash) in ``table.meta``.
        Raises ValueError (shapes, missing columns, ...) with the stage's
        message.  The GIL is released while the stage runs.
        """
        if isinstance(header, (tuple, list)):
            hdrs = [header_bytes(h) for h in header]
            if len(hdrs) != 3:
                raise ValueError("header: one header, or a tuple of three (sci, ref, diff)")
            if len(set(hdrs)) != 1:
                raise ValueError("header: the three images must share one grid and WCS; "
                                 "give the science header")
            hb = hdrs[0]
        else:
            hb = header_bytes(header)
        cols = columns_of(detections, "detections")
        hist = columns_of(history, "history") if history is not None else None
        out_cols, meta = self._process(
            sci, ref, diff, cols, mask, hb, hist, exposure_id, band,
            float("nan") if mjd is None else float(mjd), survey)
        return result_table(out_cols, meta)



class AlertScorer(_stampvet.AlertScorer):
    """A reusable alert-packet scorer: the model's network compiled once and
    an Avro reader that parses each writer schema once, for a broker that
    scores packets as they arrive (``scorer.score(message_bytes)``).

    AlertScorer(model, lc_model=None, schema=None, threads=1, batch=64):
    the arguments of score_alerts.  ``score(alerts, errors='raise')`` is
    score_alerts on this scorer.  One thread at a time uses a scorer (a
    second waits); use one per thread to score in parallel.
    """

    def __init__(self, model, *, lc_model=None, schema=None, threads=1, batch=64):
        if not _stampvet.alerts_available:
            raise Error("this stampvet was built without Avro: no alert packets "
                        "(install libavro-dev and rebuild)")
        if not isinstance(model, Model):
            model = Model(model)
        super().__init__(model, None if lc_model is None else os.fspath(lc_model),
                         None if schema is None else os.fspath(schema), batch, threads)
        self.model = model

    def __repr__(self):
        return f"<stampvet.AlertScorer model={self.model.name!r}>"

    def score(self, alerts, errors="raise"):
        """The score table of alerts (see score_alerts)."""
        if errors not in ("raise", "flag"):
            raise ValueError(f"errors={errors!r}: 'raise' or 'flag'")
        if isinstance(alerts, (str, os.PathLike, bytes, bytearray, memoryview)):
            alerts = [alerts]
        sources = []
        for i, a in enumerate(alerts):
            if isinstance(a, (str, os.PathLike)):
                path = os.fspath(a)
                if isinstance(path, bytes):
                    path = os.fsdecode(path)
                sources.append((path, path))
            elif isinstance(a, (bytes, bytearray, memoryview)):
                sources.append((a, f"<bytes #{i}>"))
            else:
                raise TypeError(f"alerts[{i}]: a path or bytes, not {type(a).__name__}")
        cols, meta = self._score(sources, errors == "raise")
        return alert_table(cols, meta)


def score_alerts(alerts, model, *, lc_model=None, schema=None, threads=1, batch=64,
                 errors="raise"):
    """Score survey alert packets (Apache Avro) as brokers receive them,
    exactly as ``stampvet score --alerts`` does (doc/alerts.md).

    alerts: an Avro file (str or path-like), its bytes (bytes, bytearray,
    memoryview: a container file or, with `schema`, one schemaless Kafka
    message), or a list of these.  ZTF alert packets (schema 3.x) and
    LSST / Rubin ones (7.x-9.x), any number of alerts per file.
    model: a real/bogus or class model (path or Model).  lc_model: a
    light-curve model file: each alert's packet history plus the alert is
    classified too.  schema: the writer's schema (.avsc) for schemaless
    messages.  threads, batch: of the network calls.

    Returns an astropy Table, one row per alert in input order, nothing
    dropped, indexed by the alert's identifier (``t.loc[candid]``), with the
    columns of ``score --alerts`` named as the survey names them: ZTF
    candid, objectId, drb (stampvet's P(real); a class model gives
    p_<class> and class instead), drbversion, packet_drb (ZTF's own drb),
    nprv; LSST diaSourceId, diaObjectId, reliability, reliabilityVersion,
    packet_reliability, nPrvDiaSources; then flags, survey, source, record,
    error.  An unknown identifier is masked.  A damaged record, an alert
    without cutouts or with unreadable ones is a flagged row (flags, error
    naming the source and record; score NaN); ``table.meta`` holds the
    model, its checksum, the counts and the flag names (FLAG1 ...).

    errors: 'raise' (default): a source that cannot be read at all (not
    Avro, a damaged header, missing file) raises ValueError / OSError
    with the library's message naming it; 'flag': it becomes one flagged
    row, as on the command line.  The GIL is released while the engine
    runs.  To score packets one by one as they arrive, keep an
    AlertScorer: it compiles the network and parses each schema once.
    """
    scorer = AlertScorer(model, lc_model=lc_model, schema=schema, threads=threads, batch=batch)
    return scorer.score(alerts, errors)
