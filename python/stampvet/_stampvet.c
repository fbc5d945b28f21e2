/* _stampvet.c — the CPython extension under the `stampvet` package: numpy
 * arrays in and out of libstampvet's public API (stampvet.h), nothing else.
 *
 * The Python layer (__init__.py) turns tables (astropy, dict, pandas) and
 * headers (astropy Header, WCS) into the plain forms used here: lists of
 * (name, ndarray, unit) columns and FITS header bytes.  This file owns the
 * C side: it takes arrays without copying when their layout is the engine's
 * (native float32, rows of unit stride), converts them otherwise, releases
 * the GIL while the engine runs, copies result tables out into new arrays,
 * and turns sv_error into Python exceptions carrying the library's text.
 *
 * Threads: a Model keeps one cached scorer behind a lock; a call that finds
 * it busy (another Python thread scoring with the same Model) builds its own
 * scorer for the call, so concurrent calls never share one.  A Stage and an
 * AlertScorer are used by one thread at a time (stampvet.h): their lock
 * makes a second thread wait, with the GIL released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <stdint.h>
#include <string.h>

#include <stampvet.h>

/* ---- errors ------------------------------------------------------------ */

static PyObject *StampvetError;   /* stampvet.Error: base of library errors */

/* Raise the exception for a library status, with the library's text. */
static PyObject *raise_sv(int status, const sv_error *err)
{
    const char *text = err && err->text[0] ? err->text : sv_status_name(status);
    PyObject *type;
    switch (status) {
    case SV_ERR_ARG:
    case SV_ERR_SHAPE:
    case SV_ERR_FORMAT: type = PyExc_ValueError; break;
    case SV_ERR_IO: type = PyExc_OSError; break;
    case SV_ERR_NOMEM: return PyErr_NoMemory();
    default: type = StampvetError; break;
    }
    PyErr_SetString(type, text);
    return NULL;
}

/* ---- arrays ------------------------------------------------------------ */

/* A float32 view of obj with unit stride along the last axis and rows a
 * whole number of floats apart (no copy when obj already is one); NULL with
 * TypeError/ValueError naming `what` otherwise. ndim: the wanted number of
 * dimensions (2, or 3 with 2 accepted when allow2). */
static PyArrayObject *as_float_rows(PyObject *obj, const char *what, int ndim_min,
                                    int ndim_max)
{
    /* numbers only: a complex, boolean or object array is refused, not cast */
    if (PyArray_Check(obj) && !PyArray_ISFLOAT((PyArrayObject *)obj) &&
        !PyArray_ISINTEGER((PyArrayObject *)obj)) {
        PyErr_Format(PyExc_TypeError, "%s: dtype %S: wanted float32 or float64 (or integers)",
                     what, (PyObject *)PyArray_DESCR((PyArrayObject *)obj));
        return NULL;
    }
    PyArray_Descr *f32 = PyArray_DescrFromType(NPY_FLOAT32);
    PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(obj, f32, 0, 0, NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
    if (!a) {
        PyErr_Format(PyExc_TypeError, "%s: not convertible to a float32 array", what);
        return NULL;
    }
    int nd = PyArray_NDIM(a);
    if (nd < ndim_min || nd > ndim_max) {
        PyErr_Format(PyExc_ValueError, "%s: %d-D array (wanted %s)", what, nd,
                     ndim_min == ndim_max ? "2-D" : "2-D [H, W] or 3-D [N, H, W]");
        Py_DECREF(a);
        return NULL;
    }
    npy_intp *st = PyArray_STRIDES(a);
    int ok = PyArray_ISNOTSWAPPED(a) && st[nd - 1] == (npy_intp)sizeof(float) &&
             st[nd - 2] > 0 && st[nd - 2] % (npy_intp)sizeof(float) == 0;
    for (int i = 0; i < nd - 2 && ok; i++)
        ok = st[i] > 0 && st[i] % (npy_intp)sizeof(float) == 0;
    if (!ok) {
        PyArrayObject *c = (PyArrayObject *)PyArray_NewCopy(a, NPY_CORDER);
        Py_DECREF(a);
        a = c;
    }
    return a;
}

/* ---- Model ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    sv_model *m;
    sv_scorer *scorer;          /* cached, for scorer_threads, scorer_batch  */
    int scorer_threads, scorer_batch;
    PyThread_type_lock lock;    /* held while the cached scorer runs         */
} ModelObject;

static void Model_dealloc(ModelObject *self)
{
    sv_scorer_free(self->scorer);
    sv_model_free(self->m);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *path_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&", kwlist, PyUnicode_FSConverter, &path_obj))
        return -1;
    if (self->m) {
        PyErr_SetString(PyExc_RuntimeError, "Model already initialised");
        Py_DECREF(path_obj);
        return -1;
    }
    sv_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sv_model_load(PyBytes_AS_STRING(path_obj), &self->m, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (rc)
        return raise_sv(rc, &err), -1;
    self->lock = PyThread_allocate_lock();
    if (!self->lock)
        return PyErr_NoMemory(), -1;
    return 0;
}

static int model_ready(ModelObject *self)
{
    if (!self->m) {
        PyErr_SetString(PyExc_RuntimeError, "Model not initialised");
        return 0;
    }
    return 1;
}

#define MODEL_STR_GETTER(field)                                                  \
    static PyObject *Model_get_##field(ModelObject *self, void *closure)         \
    {                                                                            \
        return model_ready(self) ? PyUnicode_FromString(sv_model_##field(self->m)) \
                                 : NULL;                                         \
    }
MODEL_STR_GETTER(name)
MODEL_STR_GETTER(version)
MODEL_STR_GETTER(task)
MODEL_STR_GETTER(checksum)
MODEL_STR_GETTER(path)

static PyObject *Model_get_classes(ModelObject *self, void *closure)
{
    if (!model_ready(self))
        return NULL;
    int n = sv_model_n_classes(self->m);
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++)
        PyTuple_SET_ITEM(t, i, PyUnicode_FromString(sv_model_class(self->m, i)));
    return t;
}

static PyObject *Model_get_features(ModelObject *self, void *closure)
{
    if (!model_ready(self))
        return NULL;
    int n = sv_model_n_features(self->m);
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++)
        PyTuple_SET_ITEM(t, i, PyUnicode_FromString(sv_model_feature(self->m, i)));
    return t;
}

static PyObject *Model_get_input_shape(ModelObject *self, void *closure)
{
    if (!model_ready(self))
        return NULL;
    int h, w, c;
    sv_model_input_shape(self->m, &h, &w, &c);
    return Py_BuildValue("(iii)", h, w, c);
}

static PyObject *Model_get_channels(ModelObject *self, void *closure)
{
    static const char *names[] = {"sci", "ref", "diff"};
    if (!model_ready(self))
        return NULL;
    int c;
    sv_model_input_shape(self->m, NULL, NULL, &c);
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i < c; i++) {
        int ch = sv_model_channel(self->m, i);
        if (ch < 0 || ch > 2)
            break;
        PyObject *s = PyUnicode_FromString(names[ch]);
        PyList_Append(list, s);
        Py_XDECREF(s);
    }
    if (!list)
        return NULL;
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

static PyObject *Model_get_stamp_size(ModelObject *self, void *closure)
{
    return model_ready(self) ? PyLong_FromLong(sv_model_stamp_size(self->m)) : NULL;
}

static PyObject *Model_get_provenance(ModelObject *self, void *closure)
{
    if (!model_ready(self))
        return NULL;
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < sv_model_n_provenance(self->m); i++) {
        const char *key;
        const char *val = sv_model_provenance(self->m, i, &key);
        PyObject *v = PyUnicode_DecodeLatin1(val, (Py_ssize_t)strlen(val), "replace");
        if (!v || PyDict_SetItemString(d, key, v)) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

/* _score(sci, ref, diff, features, threads, batch): sci/ref/diff 2-D or 3-D
 * arrays of one shape (None for a channel the model does not use);
 * features an (N, n_features) array or None.  Returns an (N, n_outputs)
 * float32 array (N = 1 for 2-D stamps). */
static PyObject *Model_score(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sci", "ref", "diff", "features", "threads", "batch", NULL};
    static const char *what[] = {"sci", "ref", "diff"};
    PyObject *in[3], *feat_obj = Py_None;
    int threads = 1, batch = 64;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|Oii", kwlist, &in[0], &in[1], &in[2],
                                     &feat_obj, &threads, &batch))
        return NULL;
    if (!model_ready(self))
        return NULL;
    if (strcmp(sv_model_task(self->m), "lightcurve") == 0) {
        PyErr_Format(PyExc_ValueError, "model '%s' is a light-curve model: it does not score stamps",
                     sv_model_name(self->m));
        return NULL;
    }
    if (threads < 1 || threads > SV_SCORER_THREADS_MAX) {
        PyErr_Format(PyExc_ValueError, "threads = %d (1..%d)", threads, SV_SCORER_THREADS_MAX);
        return NULL;
    }
    PyArrayObject *arr[3] = {NULL, NULL, NULL}, *feat = NULL, *out = NULL;
    sv_triplet *t = NULL;
    sv_scorer *own = NULL;
    npy_intp n = -1, h = 0, w = 0;
    int used[3] = {0, 0, 0}, c;
    sv_model_input_shape(self->m, NULL, NULL, &c);
    for (int i = 0; i < c; i++) {
        int ch = sv_model_channel(self->m, i);
        if (ch >= 0 && ch < 3)
            used[ch] = 1;
    }
    for (int k = 0; k < 3; k++) {
        if (in[k] == Py_None) {
            if (used[k]) {
                PyErr_Format(PyExc_ValueError, "%s: model '%s' needs this stamp", what[k],
                             sv_model_name(self->m));
                goto fail;
            }
            continue;
        }
        if (!(arr[k] = as_float_rows(in[k], what[k], 2, 3)))
            goto fail;
        int nd = PyArray_NDIM(arr[k]);
        npy_intp kn = nd == 3 ? PyArray_DIM(arr[k], 0) : 1;
        npy_intp kh = PyArray_DIM(arr[k], nd - 2), kw_ = PyArray_DIM(arr[k], nd - 1);
        if (n < 0) {
            n = kn, h = kh, w = kw_;
        } else if (kn != n || kh != h || kw_ != w) {
            PyErr_Format(PyExc_ValueError,
                         "%s: %zd stamps of %zd x %zd, but %s has %zd of %zd x %zd", what[k],
                         (Py_ssize_t)kn, (Py_ssize_t)kh, (Py_ssize_t)kw_, what[0],
                         (Py_ssize_t)n, (Py_ssize_t)h, (Py_ssize_t)w);
            goto fail;
        }
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "no stamps given");
        goto fail;
    }
    if (h < 1 || w < 1 || h > INT32_MAX || w > INT32_MAX || n > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "stamps of %zd x %zd: empty or too large", (Py_ssize_t)h,
                     (Py_ssize_t)w);
        goto fail;
    }
    int nf = sv_model_n_features(self->m);
    if (nf > 0) {
        if (feat_obj == Py_None) {
            PyErr_Format(PyExc_ValueError, "model '%s' needs %d features per triplet",
                         sv_model_name(self->m), nf);
            goto fail;
        }
        feat = (PyArrayObject *)PyArray_FROM_OTF(feat_obj, NPY_FLOAT32, NPY_ARRAY_IN_ARRAY);
        if (!feat)
            goto fail;
        if (PyArray_NDIM(feat) != 2 || PyArray_DIM(feat, 0) != n || PyArray_DIM(feat, 1) != nf) {
            PyErr_Format(PyExc_ValueError, "features: wanted %zd x %d values", (Py_ssize_t)n, nf);
            goto fail;
        }
    } else if (feat_obj != Py_None) {
        PyErr_Format(PyExc_ValueError, "model '%s' takes no features", sv_model_name(self->m));
        goto fail;
    }

    t = PyMem_Calloc(n ? (size_t)n : 1, sizeof *t);
    if (!t) {
        PyErr_NoMemory();
        goto fail;
    }
    for (npy_intp i = 0; i < n; i++) {
        t[i].h = (int)h;
        t[i].w = (int)w;
        for (int k = 0; k < 3; k++) {
            if (!arr[k])
                continue;
            /* the scorer reads rows of w floats: a stamp must be
             * contiguous, which as_float_rows ensures only for rows */
            if (PyArray_STRIDE(arr[k], PyArray_NDIM(arr[k]) - 2) != w * (npy_intp)sizeof(float)) {
                PyArrayObject *cc = (PyArrayObject *)PyArray_NewCopy(arr[k], NPY_CORDER);
                if (!cc)
                    goto fail;
                Py_SETREF(arr[k], cc);
            }
            const char *base = PyArray_BYTES(arr[k]);
            npy_intp step = PyArray_NDIM(arr[k]) == 3 ? PyArray_STRIDE(arr[k], 0) : 0;
            t[i].chan[k] = (const float *)(base + i * step);
        }
    }

    npy_intp dims[2] = {n, 0};
    int rc = SV_OK;
    sv_error err;
    err.status = 0;
    err.text[0] = 0;
    /* the cached scorer when free, else one for this call */
    sv_scorer *s = NULL;
    int have_lock = PyThread_acquire_lock(self->lock, NOWAIT_LOCK);
    Py_BEGIN_ALLOW_THREADS
    if (have_lock) {
        if (!self->scorer || self->scorer_threads != threads || self->scorer_batch != batch) {
            sv_scorer_free(self->scorer);
            self->scorer = NULL;
            rc = sv_scorer_create(self->m, batch, threads, &self->scorer, &err);
            self->scorer_threads = threads;
            self->scorer_batch = batch;
        }
        s = self->scorer;
    } else {
        rc = sv_scorer_create(self->m, batch, threads, &own, &err);
        s = own;
    }
    Py_END_ALLOW_THREADS
    if (rc)
        goto fail_run;
    dims[1] = sv_scorer_n_outputs(s);
    out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out)
        goto fail_run;
    const float *fv = feat ? (const float *)PyArray_DATA(feat) : NULL;
    float *o = (float *)PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    rc = n ? sv_scorer_run(s, (int)n, t, fv, o, NULL, &err) : SV_OK;
    Py_END_ALLOW_THREADS
fail_run:
    if (have_lock)
        PyThread_release_lock(self->lock);
    sv_scorer_free(own);
    if (rc) {
        raise_sv(rc, &err);
        Py_CLEAR(out);
    }
fail:
    for (int k = 0; k < 3; k++)
        Py_XDECREF(arr[k]);
    Py_XDECREF(feat);
    PyMem_Free(t);
    return (PyObject *)out;
}

static PyGetSetDef Model_getset[] = {
    {"name", (getter)Model_get_name, NULL, "the model's name, e.g. 'braai-d6_m7'", NULL},
    {"version", (getter)Model_get_version, NULL, "the model's version text", NULL},
    {"task", (getter)Model_get_task, NULL, "'realbogus', 'class' or 'lightcurve'", NULL},
    {"checksum", (getter)Model_get_checksum, NULL, "FITS CHECKSUM of the model file", NULL},
    {"path", (getter)Model_get_path, NULL, "the file the model was read from", NULL},
    {"classes", (getter)Model_get_classes, NULL, "output names, in output order", NULL},
    {"features", (getter)Model_get_features, NULL, "named scalar inputs, in order", NULL},
    {"input_shape", (getter)Model_get_input_shape, NULL, "(height, width, channels)", NULL},
    {"channels", (getter)Model_get_channels, NULL, "the stamps feeding each channel", NULL},
    {"stamp_size", (getter)Model_get_stamp_size, NULL, "size the stage cuts", NULL},
    {"provenance", (getter)Model_get_provenance, NULL, "provenance cards, as a dict", NULL},
    {NULL}};

static PyMethodDef Model_methods[] = {
    {"_score", (PyCFunction)(void (*)(void))Model_score, METH_VARARGS | METH_KEYWORDS,
     "_score(sci, ref, diff, features=None, threads=1, batch=64) -> float32 (N, outputs)"},
    {NULL}};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stampvet._stampvet.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A stampvet model file, loaded (the C side of stampvet.Model).",
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
    .tp_init = (initproc)Model_init,
    .tp_new = PyType_GenericNew,
};

/* ---- tables ------------------------------------------------------------ */

/* The dia_table of a list of (name, array) pairs, pointing into the arrays
 * (kept alive in *keep, a list).  Arrays: 1-D of int16/32/64, float32/64,
 * uint8/bool, bytes ('S'); or 2-D/3-D float/int (array columns, TDIM from
 * the trailing axes).  Returns 0, or -1 with an exception set. */
typedef struct {
    dia_table t;
    dia_column *cols;
    PyObject *keep;
} table_hold;

static void table_release(table_hold *th)
{
    PyMem_Free(th->cols);
    Py_XDECREF(th->keep);
    memset(th, 0, sizeof *th);
}

static int col_type(PyArrayObject *a, dia_col_type *type)
{
    switch (PyArray_TYPE(a)) {
    case NPY_INT16: *type = DIA_COL_INT16; return 0;
    case NPY_INT32: *type = DIA_COL_INT32; return 0;
    case NPY_INT64: *type = DIA_COL_INT64; return 0;
    case NPY_FLOAT32: *type = DIA_COL_FLOAT32; return 0;
    case NPY_FLOAT64: *type = DIA_COL_FLOAT64; return 0;
    case NPY_UINT8:
    case NPY_BOOL: *type = DIA_COL_UINT8; return 0;
    case NPY_STRING: *type = DIA_COL_STRING; return 0;
    default: return -1;
    }
}

static int table_from_list(PyObject *list, const char *what, table_hold *th)
{
    memset(th, 0, sizeof *th);
    PyObject *seq = PySequence_Fast(list, "columns must be a list of (name, array)");
    if (!seq)
        return -1;
    Py_ssize_t nc = PySequence_Fast_GET_SIZE(seq);
    th->keep = PyList_New(0);
    th->cols = PyMem_Calloc(nc ? (size_t)nc : 1, sizeof *th->cols);
    if (!th->keep || !th->cols) {
        Py_DECREF(seq);
        table_release(th);
        PyErr_NoMemory();
        return -1;
    }
    npy_intp nrows = -1;
    for (Py_ssize_t i = 0; i < nc; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *name_obj, *arr_obj;
        if (!PyArg_ParseTuple(item, "OO", &name_obj, &arr_obj))
            goto fail;
        PyObject *name_b = PyUnicode_AsUTF8String(name_obj);
        if (!name_b || PyList_Append(th->keep, name_b)) {
            Py_XDECREF(name_b);
            goto fail;
        }
        Py_DECREF(name_b);
        const char *name = PyBytes_AS_STRING(name_b);
        PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(arr_obj, NPY_ARRAY_IN_ARRAY);
        if (!a)
            goto fail;
        if (!PyArray_ISNOTSWAPPED(a)) {
            PyArray_Descr *d = PyArray_DescrNewByteorder(PyArray_DESCR(a), NPY_NATIVE);
            PyArrayObject *b = d ? (PyArrayObject *)PyArray_FromArray(a, d, NPY_ARRAY_IN_ARRAY)
                                 : NULL;
            Py_DECREF(a);
            if (!(a = b))
                goto fail;
        }
        int rc = PyList_Append(th->keep, (PyObject *)a);
        Py_DECREF(a);
        if (rc)
            goto fail;
        dia_column *c = &th->cols[i];
        c->name = name;
        int nd = PyArray_NDIM(a);
        if (col_type(a, &c->type) || nd < 1 || nd > 3 ||
            (c->type == DIA_COL_STRING && nd != 1)) {
            PyErr_Format(PyExc_TypeError,
                         "%s column '%s': dtype %R, %d-D: not a column type the stage reads "
                         "(int16/32/64, float32/64, bool/uint8, bytes; 1-D, or 2-D/3-D arrays "
                         "per row)",
                         what, name, (PyObject *)PyArray_DESCR(a), nd);
            goto fail;
        }
        npy_intp rows = PyArray_DIM(a, 0);
        if (nrows >= 0 && rows != nrows) {
            PyErr_Format(PyExc_ValueError, "%s column '%s': %zd rows, others have %zd", what,
                         name, (Py_ssize_t)rows, (Py_ssize_t)nrows);
            goto fail;
        }
        nrows = rows;
        npy_intp rep = 1;
        for (int k = 1; k < nd; k++)
            rep *= PyArray_DIM(a, k);
        if (c->type == DIA_COL_STRING)
            rep = PyArray_ITEMSIZE(a);
        if (rep > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "%s column '%s': rows too wide", what, name);
            goto fail;
        }
        c->repeat = (int32_t)rep;
        c->ndim = nd == 3 ? 2 : 0;
        if (nd == 3) {
            c->dims[0] = (int32_t)PyArray_DIM(a, 2);   /* NAXIS1 first, as TDIM */
            c->dims[1] = (int32_t)PyArray_DIM(a, 1);
        }
        c->data = PyArray_DATA(a);
    }
    Py_DECREF(seq);
    th->t.nrows = nrows < 0 ? 0 : nrows;
    th->t.ncols = (int32_t)nc;
    th->t.cols = th->cols;
    return 0;
fail:
    Py_DECREF(seq);
    table_release(th);
    return -1;
}

/* A new array holding a copy of a result column. */
static PyObject *column_to_array(const dia_column *c, int64_t nrows)
{
    int np_type;
    switch (c->type) {
    case DIA_COL_INT16: np_type = NPY_INT16; break;
    case DIA_COL_INT32: np_type = NPY_INT32; break;
    case DIA_COL_INT64: np_type = NPY_INT64; break;
    case DIA_COL_FLOAT32: np_type = NPY_FLOAT32; break;
    case DIA_COL_FLOAT64: np_type = NPY_FLOAT64; break;
    case DIA_COL_UINT8: np_type = NPY_UINT8; break;
    case DIA_COL_STRING: np_type = NPY_STRING; break;
    default:
        PyErr_Format(StampvetError, "result column '%s': unknown type %d", c->name, c->type);
        return NULL;
    }
    npy_intp dims[3] = {(npy_intp)nrows, 0, 0};
    int nd = 1;
    if (c->type != DIA_COL_STRING && c->repeat > 1) {
        if (c->ndim == 2 && (int64_t)c->dims[0] * c->dims[1] == c->repeat) {
            dims[1] = c->dims[1], dims[2] = c->dims[0], nd = 3;
        } else {
            dims[1] = c->repeat, nd = 2;
        }
    }
    PyArrayObject *a;
    if (c->type == DIA_COL_STRING) {
        PyArray_Descr *d = PyArray_DescrNewFromType(NPY_STRING);
        if (!d)
            return NULL;
        d->elsize = c->repeat;
        a = (PyArrayObject *)PyArray_NewFromDescr(&PyArray_Type, d, 1, dims, NULL, NULL, 0, NULL);
    } else {
        a = (PyArrayObject *)PyArray_SimpleNew(nd, dims, np_type);
    }
    if (a) {
        size_t nbytes = (size_t)PyArray_NBYTES(a);
        if (nbytes)
            memcpy(PyArray_DATA(a), c->data, nbytes);
    }
    return (PyObject *)a;
}

/* (columns, meta) of a result table, copied: columns a list of (name,
 * array, unit, description), meta a list of (key, value). */
static PyObject *table_to_python(const dia_table *res)
{
    PyObject *cols = PyList_New(res->ncols), *meta = PyList_New(res->nmeta);
    int ok = cols && meta;
    for (int32_t i = 0; ok && i < res->ncols; i++) {
        const dia_column *c = &res->cols[i];
        PyObject *a = column_to_array(c, res->nrows);
        PyObject *item = a ? Py_BuildValue("(sNss)", c->name, a, c->unit ? c->unit : "",
                                           c->description ? c->description : "")
                           : NULL;
        if (!item)
            ok = 0;
        else
            PyList_SET_ITEM(cols, i, item);
    }
    for (int32_t i = 0; ok && i < res->nmeta; i++) {
        const char *v = res->meta[i].value ? res->meta[i].value : "";
        PyObject *item = Py_BuildValue("(sN)", res->meta[i].key,
                                       PyUnicode_DecodeLatin1(v, (Py_ssize_t)strlen(v), "replace"));
        if (!item)
            ok = 0;
        else
            PyList_SET_ITEM(meta, i, item);
    }
    if (ok)
        return Py_BuildValue("(NN)", cols, meta);
    Py_XDECREF(cols);
    Py_XDECREF(meta);
    return NULL;
}

/* ---- Stage ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    sv_stage *s;
    PyThread_type_lock lock;    /* one thread at a time per stage            */
} StageObject;

static void Stage_dealloc(StageObject *self)
{
    sv_stage_free(self->s);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Stage(params): params a list of (key, value) strings. */
static int Stage_init(StageObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"params", NULL};
    PyObject *params;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O", kwlist, &params))
        return -1;
    if (self->s) {
        PyErr_SetString(PyExc_RuntimeError, "Stage already initialised");
        return -1;
    }
    PyObject *seq = PySequence_Fast(params, "params must be a list of (key, value)");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    dia_kv *kv = PyMem_Calloc(n ? (size_t)n : 1, sizeof *kv);
    if (!kv) {
        Py_DECREF(seq);
        return PyErr_NoMemory(), -1;
    }
    int ret = -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ss", &kv[i].key, &kv[i].value))
            goto done;
    sv_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sv_stage_new(kv, (size_t)n, NULL, &self->s, &err);
    Py_END_ALLOW_THREADS
    if (rc) {
        raise_sv(rc, &err);
        goto done;
    }
    if (!(self->lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        goto done;
    }
    ret = 0;
done:
    PyMem_Free(kv);
    Py_DECREF(seq);
    return ret;
}

/* Fill a dia_image from a 2-D array (kept in *a) and header bytes. */
static int image_from(PyObject *obj, const char *what, PyObject *header, PyArrayObject **a,
                      dia_image *im)
{
    if (!(*a = as_float_rows(obj, what, 2, 2)))
        return -1;
    if (PyArray_DIM(*a, 0) > INT32_MAX || PyArray_DIM(*a, 1) > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: image too large", what);
        return -1;
    }
    im->data = (const float *)PyArray_DATA(*a);
    im->height = (int32_t)PyArray_DIM(*a, 0);
    im->width = (int32_t)PyArray_DIM(*a, 1);
    im->stride = PyArray_STRIDE(*a, 0) / (npy_intp)sizeof(float);
    if (header != Py_None) {
        Py_ssize_t len = PyBytes_Size(header);
        if (len < 0)
            return -1;
        if (len % 80) {
            PyErr_Format(PyExc_ValueError, "%s header: %zd bytes, not whole 80-character cards",
                         what, len);
            return -1;
        }
        im->header = PyBytes_AS_STRING(header);
        im->header_ncards = (int32_t)(len / 80);
    }
    return 0;
}

/* _process(sci, ref, diff, columns, mask=None, header=None, history=None,
 *          exposure_id=None, band=None, mjd=nan, survey=None)
 * -> (columns, meta): columns a list of (name, array, unit, description),
 * meta a list of (key, value). */
static PyObject *Stage_process(StageObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sci", "ref", "diff", "columns", "mask", "header", "history",
                             "exposure_id", "band", "mjd", "survey", NULL};
    PyObject *sci, *ref, *diff, *columns, *mask_obj = Py_None, *header = Py_None,
             *history = Py_None;
    const char *exposure_id = NULL, *band = NULL, *survey = NULL;
    double mjd = Py_NAN;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|OOOzzdz", kwlist, &sci, &ref, &diff,
                                     &columns, &mask_obj, &header, &history, &exposure_id,
                                     &band, &mjd, &survey))
        return NULL;
    if (!self->s) {
        PyErr_SetString(PyExc_RuntimeError, "Stage not initialised");
        return NULL;
    }
    if (header != Py_None && !PyBytes_Check(header)) {
        PyErr_SetString(PyExc_TypeError, "header: bytes of 80-character FITS cards");
        return NULL;
    }
    PyArrayObject *im[3] = {NULL, NULL, NULL}, *mask = NULL;
    table_hold det, hist;
    memset(&det, 0, sizeof det);
    memset(&hist, 0, sizeof hist);
    PyObject *result = NULL;
    dia_exposure x;
    memset(&x, 0, sizeof x);
    x.struct_size = sizeof x;
    x.exposure_id = exposure_id;
    x.band = band;
    x.survey = survey;
    x.mjd = mjd;
    if (image_from(sci, "sci", header, &im[0], &x.science) ||
        image_from(ref, "ref", header, &im[1], &x.reference) ||
        image_from(diff, "diff", header, &im[2], &x.difference))
        goto done;
    if (mask_obj != Py_None) {
        PyArray_Descr *u32 = PyArray_DescrFromType(NPY_UINT32);
        mask = (PyArrayObject *)PyArray_FromAny(mask_obj, u32, 2, 2, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST, NULL);
        if (!mask) {
            PyErr_Format(PyExc_ValueError, "mask: wanted a 2-D integer array");
            goto done;
        }
        x.mask = (const uint32_t *)PyArray_DATA(mask);
        x.mask_stride = PyArray_DIM(mask, 1);
        if (PyArray_DIM(mask, 0) != x.science.height || PyArray_DIM(mask, 1) != x.science.width) {
            PyErr_Format(PyExc_ValueError, "mask: %zd x %zd, images are %d x %d",
                         (Py_ssize_t)PyArray_DIM(mask, 0), (Py_ssize_t)PyArray_DIM(mask, 1),
                         x.science.height, x.science.width);
            goto done;
        }
    }
    if (table_from_list(columns, "detections", &det))
        goto done;
    if (history != Py_None) {
        if (table_from_list(history, "history", &hist))
            goto done;
        x.history = &hist.t;
    }

    const dia_table *res = NULL;
    sv_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    rc = sv_stage_process(self->s, &x, &det.t, &res, &err);
    Py_END_ALLOW_THREADS
    if (rc) {
        PyThread_release_lock(self->lock);
        raise_sv(rc, &err);
        goto done;
    }
    /* copy the result out while the stage is still ours */
    result = table_to_python(res);
    PyThread_release_lock(self->lock);
done:
    for (int k = 0; k < 3; k++)
        Py_XDECREF(im[k]);
    Py_XDECREF(mask);
    table_release(&det);
    table_release(&hist);
    return result;
}

static PyObject *Stage_model(const sv_model *m)
{
    if (!m)
        Py_RETURN_NONE;
    return Py_BuildValue("{s:s,s:s,s:s,s:s}", "name", sv_model_name(m), "task", sv_model_task(m),
                         "checksum", sv_model_checksum(m), "path", sv_model_path(m));
}

static PyObject *Stage_get_rb_model(StageObject *self, void *closure)
{
    return Stage_model(self->s ? sv_stage_rb_model(self->s) : NULL);
}

static PyObject *Stage_get_class_model(StageObject *self, void *closure)
{
    return Stage_model(self->s ? sv_stage_class_model(self->s) : NULL);
}

static PyGetSetDef Stage_getset[] = {
    {"rb_model", (getter)Stage_get_rb_model, NULL,
     "the real/bogus model: dict of name, task, checksum, path", NULL},
    {"class_model", (getter)Stage_get_class_model, NULL, "the class model, or None", NULL},
    {NULL}};

static PyMethodDef Stage_methods[] = {
    {"_process", (PyCFunction)(void (*)(void))Stage_process, METH_VARARGS | METH_KEYWORDS,
     "_process(sci, ref, diff, columns, mask=None, header=None, history=None, exposure_id=None, "
     "band=None, mjd=nan, survey=None) -> (columns, meta)"},
    {NULL}};

static PyTypeObject StageType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stampvet._stampvet.Stage",
    .tp_basicsize = sizeof(StageObject),
    .tp_dealloc = (destructor)Stage_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A stampvet stage instance (the C side of stampvet.Stage).",
    .tp_methods = Stage_methods,
    .tp_getset = Stage_getset,
    .tp_init = (initproc)Stage_init,
    .tp_new = PyType_GenericNew,
};

/* ---- alert packets ----------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    sv_alert_scorer *as;
    PyObject *model;            /* the Model whose sv_model the scorer uses */
    PyThread_type_lock lock;    /* one thread at a time per scorer          */
} AlertScorerObject;

static void AlertScorer_dealloc(AlertScorerObject *self)
{
    sv_alert_scorer_free(self->as);
    Py_XDECREF(self->model);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* AlertScorer(model, lc_model=None, schema=None, batch=64, threads=1) */
static int AlertScorer_init(AlertScorerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"model", "lc_model", "schema", "batch", "threads", NULL};
    PyObject *model;
    const char *lc_model = NULL, *schema = NULL;
    int batch = 64, threads = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|zzii", kwlist, &ModelType, &model,
                                     &lc_model, &schema, &batch, &threads))
        return -1;
    if (self->as) {
        PyErr_SetString(PyExc_RuntimeError, "AlertScorer already initialised");
        return -1;
    }
    ModelObject *mo = (ModelObject *)model;
    if (!model_ready(mo))
        return -1;
    if (threads < 1 || threads > SV_SCORER_THREADS_MAX) {
        PyErr_Format(PyExc_ValueError, "threads = %d (1..%d)", threads, SV_SCORER_THREADS_MAX);
        return -1;
    }
    sv_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sv_alert_scorer_create(mo->m, lc_model, schema, batch, threads, &self->as, &err);
    Py_END_ALLOW_THREADS
    if (rc)
        return raise_sv(rc, &err), -1;
    if (!(self->lock = PyThread_allocate_lock()))
        return PyErr_NoMemory(), -1;
    Py_INCREF(model);
    self->model = model;
    return 0;
}

/* Add one (source, name) item to the scorer (lock held): a str is a file,
 * a bytes-like object an Avro file's bytes or one message.  Returns the
 * library's status, or -100 with a Python exception set. */
static int alert_add(sv_alert_scorer *as, PyObject *item, sv_error *err)
{
    PyObject *src, *name;
    if (!PyArg_ParseTuple(item, "OU", &src, &name))
        return -100;
    const char *name_c = PyUnicode_AsUTF8(name);
    if (!name_c)
        return -100;
    int rc;
    if (PyUnicode_Check(src)) {
        PyObject *path = NULL;
        if (!PyUnicode_FSConverter(src, &path))
            return -100;
        Py_BEGIN_ALLOW_THREADS
        rc = sv_alert_scorer_add_file(as, PyBytes_AS_STRING(path), err);
        Py_END_ALLOW_THREADS
        Py_DECREF(path);
        return rc;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(src, &view, PyBUF_CONTIG_RO)) {
        PyErr_Format(PyExc_TypeError, "alerts: %s is neither a path nor bytes", name_c);
        return -100;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = sv_alert_scorer_add_buffer(as, view.buf, (size_t)view.len, name_c, err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return rc;
}

/* _score(sources, raise_errors=True) -> (columns, meta): sources a list of
 * (source, name), name what messages and the source column call it.  A
 * source that cannot be read as a whole raises when raise_errors, else is
 * one flagged row.  The table holds this call's alerts only. */
static PyObject *AlertScorer_score(AlertScorerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sources", "raise_errors", NULL};
    PyObject *sources;
    int raise_errors = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p", kwlist, &sources, &raise_errors))
        return NULL;
    if (!self->as) {
        PyErr_SetString(PyExc_RuntimeError, "AlertScorer not initialised");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(sources, "sources must be a list of (source, name)");
    if (!seq)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    Py_END_ALLOW_THREADS
    sv_alert_scorer_clear(self->as);
    PyObject *result = NULL;
    sv_error err;
    int rc = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        rc = alert_add(self->as, PySequence_Fast_GET_ITEM(seq, i), &err);
        if (rc == -100)
            goto done;
        if (rc && (raise_errors || rc == SV_ERR_NOMEM || rc == SV_ERR_INTERNAL)) {
            raise_sv(rc, &err);
            goto done;
        }
    }
    const dia_table *tab;
    if ((rc = sv_alert_scorer_table(self->as, &tab, &err)))
        raise_sv(rc, &err);
    else
        result = table_to_python(tab);
done:
    sv_alert_scorer_clear(self->as);
    PyThread_release_lock(self->lock);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef AlertScorer_methods[] = {
    {"_score", (PyCFunction)(void (*)(void))AlertScorer_score, METH_VARARGS | METH_KEYWORDS,
     "_score(sources, raise_errors=True) -> (columns, meta)"},
    {NULL}};

static PyTypeObject AlertScorerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stampvet._stampvet.AlertScorer",
    .tp_basicsize = sizeof(AlertScorerObject),
    .tp_dealloc = (destructor)AlertScorer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An alert-packet scorer (the C side of stampvet.AlertScorer).",
    .tp_methods = AlertScorer_methods,
    .tp_init = (initproc)AlertScorer_init,
    .tp_new = PyType_GenericNew,
};

/* ---- module ------------------------------------------------------------ */

static const char *param_type_name(dia_param_type t)
{
    switch (t) {
    case DIA_PARAM_BOOL: return "bool";
    case DIA_PARAM_INT: return "int";
    case DIA_PARAM_REAL: return "real";
    case DIA_PARAM_STRING: return "string";
    case DIA_PARAM_PATH: return "path";
    case DIA_PARAM_CHOICE: return "choice";
    }
    return "?";
}

/* params() -> list of dicts (key, type, default, min, max, choices, help). */
static PyObject *mod_params(PyObject *mod, PyObject *unused)
{
    int n;
    const dia_param_desc *p = sv_stage_param_table(&n);
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *d = Py_BuildValue("{s:s,s:s,s:s,s:d,s:d,s:z,s:s}", "key", p[i].key, "type",
                                    param_type_name(p[i].type), "default", p[i].default_value,
                                    "min", p[i].min, "max", p[i].max, "choices", p[i].choices,
                                    "help", p[i].help);
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyMethodDef mod_methods[] = {
    {"params", mod_params, METH_NOARGS, "the stage's parameter table, as a list of dicts"},
    {NULL}};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_stampvet",
    "stampvet's C engine (libstampvet) for numpy: see the stampvet package.", -1, mod_methods,
};

PyMODINIT_FUNC PyInit__stampvet(void)
{
    import_array();
    if (PyType_Ready(&ModelType) < 0 || PyType_Ready(&StageType) < 0 ||
        PyType_Ready(&AlertScorerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    StampvetError = PyErr_NewExceptionWithDoc("stampvet.Error",
                                              "A stampvet failure that is not a bad argument "
                                              "or file (cancelled, internal).",
                                              PyExc_RuntimeError, NULL);
    Py_INCREF(&ModelType);
    Py_INCREF(&StageType);
    Py_INCREF(&AlertScorerType);
    if (!StampvetError || PyModule_AddObject(m, "Error", StampvetError) ||
        PyModule_AddObject(m, "Model", (PyObject *)&ModelType) ||
        PyModule_AddObject(m, "Stage", (PyObject *)&StageType) ||
        PyModule_AddObject(m, "AlertScorer", (PyObject *)&AlertScorerType) ||
        PyModule_AddStringConstant(m, "version", sv_version()) ||
        PyModule_AddIntConstant(m, "alerts_available", sv_alerts_available())) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
