/* The clustering's hot loops over term → weight dicts, in C.
 *
 * Each function here has a pure-Python twin in kernels.py that defines what it must return;
 * the tests compare the two on random input, bit for bit. Floating-point operations are done
 * in the same order and association as the Python code (built with -ffp-contract=off, so no
 * fused multiply-add), and dicts are walked in insertion order as Python walks them: a thread
 * comes out identical whichever version ran, and a restarted run equals one long run.
 *
 * Not a new algorithm, only the interpreter's overhead removed: about 40 % of the clustering's
 * time went to per-term dict lookups and float boxing in these loops.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* A dict value as a double; Python ints are accepted (jsonb may hold whole numbers). */
static inline int as_double(PyObject *o, double *out) {
    if (PyFloat_CheckExact(o)) {
        *out = PyFloat_AS_DOUBLE(o);
        return 0;
    }
    *out = PyFloat_AsDouble(o);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *str_df, *str_nq1; /* attribute names of cluster._IdfCache */

static inline long long quantised(long long df) {
    int bits = 0;
    for (long long x = df; x; x >>= 1)
        bits++;
    int shift = bits - 6;
    return shift > 0 ? (df >> shift) << shift : df;
}

/* An IDF mapping as the kernels read it. When it is a cluster._IdfCache, its ``df`` and
 * ``nq1`` are read once per kernel call and the IDF is computed from the document frequency
 * as its __missing__ computes it, log(nq1 / (quantised(df) + 1)) + 1, without reading or
 * filling the cache: the cache always holds exactly that value for the current counts (an
 * entry is dropped when its term's quantised count moves, all of them when nq1 does), and
 * one lookup in ``df`` (whose small counts are shared int objects) is cheaper than a lookup
 * in the cache and a boxed float, let alone a miss and an insertion. There are few distinct
 * quantised counts, so the logarithms are kept per (nq1, quantised count).
 * Any other mapping is read as a mapping (PyObject_GetItem). */
typedef struct {
    PyObject *idf;
    PyObject *df; /* borrowed from the cache's slot, once resolved */
    double nq1;
    int state; /* 0: not resolved yet, 1: an _IdfCache, 2: some other mapping */
} Idf;

static inline void idf_init(Idf *c, PyObject *idf) {
    c->idf = idf;
    c->df = NULL;
    c->nq1 = 0.0;
    c->state = PyDict_CheckExact(idf) ? 2 : 0;
}

static void idf_resolve(Idf *c) {
    PyObject *df = PyObject_GetAttr(c->idf, str_df), *nq1 = NULL;
    c->state = 2;
    if (df == NULL || !PyDict_Check(df) || (nq1 = PyObject_GetAttr(c->idf, str_nq1)) == NULL) {
        Py_XDECREF(df);
        PyErr_Clear();
        return;
    }
    double top;
    if (as_double(nq1, &top) == 0) {
        c->df = df; /* the cache holds it for the duration of the call */
        c->nq1 = top;
        c->state = 1;
    } else {
        PyErr_Clear();
    }
    Py_DECREF(df);
    Py_DECREF(nq1);
}

#define IDF_SLOTS (64 + 58 * 32) /* counts below 64, then 32 mantissas per shift */
static double idf_table[IDF_SLOTS], idf_table_nq1 = -1.0;
static unsigned char idf_table_set[IDF_SLOTS];

/* log(nq1 / (quantised(count) + 1)) + 1, the logarithm computed once per step. */
static inline double idf_value(double nq1, long long count) {
    long long q = quantised(count);
    int slot = -1;
    if (q >= 0 && q < 64) {
        slot = (int)q;
    } else if (q > 0) {
        int bits = 0;
        for (long long x = q; x; x >>= 1)
            bits++;
        int shift = bits - 6;
        if (shift <= 58)
            slot = 64 + (shift - 1) * 32 + (int)((q >> shift) - 32);
    }
    if (slot < 0 || slot >= IDF_SLOTS)
        return log(nq1 / (double)(q + 1)) + 1.0;
    if (nq1 != idf_table_nq1) {
        memset(idf_table_set, 0, sizeof idf_table_set);
        idf_table_nq1 = nq1;
    }
    if (!idf_table_set[slot]) {
        idf_table[slot] = log(nq1 / (double)(q + 1)) + 1.0;
        idf_table_set[slot] = 1;
    }
    return idf_table[slot];
}

/* idf[key]: computed from the counts of an _IdfCache, else asked of the mapping. */
static int idf_of(Idf *c, PyObject *key, double *out) {
    if (c->state == 0)
        idf_resolve(c);
    if (c->state == 1) {
        long long count = 0;
        PyObject *n = PyDict_GetItemWithError(c->df, key);
        if (n == NULL && PyErr_Occurred())
            return -1;
        if (n != NULL && (count = PyLong_AsLongLong(n)) == -1 && PyErr_Occurred())
            return -1;
        *out = idf_value(c->nq1, count);
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(c->idf, key); /* borrowed */
    if (v != NULL)
        return as_double(v, out);
    if (PyErr_Occurred())
        return -1;
    v = PyObject_GetItem(c->idf, key); /* new reference; __missing__ fills the cache */
    if (v == NULL)
        return -1;
    int rc = as_double(v, out);
    Py_DECREF(v);
    return rc;
}

static int check_dict(PyObject *o, const char *what) {
    if (!PyDict_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict, not %.100s", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

static int check_args(const char *name, Py_ssize_t nargs, Py_ssize_t want) {
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, nargs);
        return -1;
    }
    return 0;
}

/* dot(vec, centroid) -> Σ vec[t]·centroid[t] over vec's terms found in centroid. */
static int cos_of(PyObject *vec, PyObject *cen, double norm, double *out);

static PyObject *k_dot(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("dot", nargs, 2) || check_dict(args[0], "vec") || check_dict(args[1], "centroid"))
        return NULL;
    double dot;
    return cos_of(args[0], args[1], 1.0, &dot) ? NULL : PyFloat_FromDouble(dot);
}

/* add_into(sums, vec, idf, sq) -> sq': sums[t] += vec[t] in place, and the squared
 * IDF-weighted norm moved by each term's change. */
static PyObject *k_add_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("add_into", nargs, 4) || check_dict(args[0], "sums") ||
        check_dict(args[1], "vec") || check_dict(args[2], "idf"))
        return NULL;
    PyObject *sums = args[0], *vec = args[1], *idf = args[2], *key, *val;
    Idf ic;
    idf_init(&ic, idf);
    double sq;
    if (as_double(args[3], &sq))
        return NULL;
    Py_ssize_t pos = 0;
    while (PyDict_Next(vec, &pos, &key, &val)) {
        double v, old = 0.0, w;
        if (as_double(val, &v))
            return NULL;
        PyObject *prev = PyDict_GetItemWithError(sums, key);
        if (prev != NULL) {
            if (as_double(prev, &old))
                return NULL;
        } else if (PyErr_Occurred()) {
            return NULL;
        }
        double now = old + v;
        PyObject *boxed = PyFloat_FromDouble(now);
        if (boxed == NULL)
            return NULL;
        int rc = PyDict_SetItem(sums, key, boxed);
        Py_DECREF(boxed);
        if (rc || idf_of(&ic, key, &w))
            return NULL;
        sq += (now * now - old * old) * w * w;
    }
    return PyFloat_FromDouble(sq);
}

/* scaled(vec, idf) -> {t: vec[t]·idf[t]} in vec's order. */
static PyObject *k_scaled(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("scaled", nargs, 2) || check_dict(args[0], "vec") || check_dict(args[1], "idf"))
        return NULL;
    PyObject *vec = args[0], *idf = args[1], *key, *val;
    Idf ic;
    idf_init(&ic, idf);
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    while (PyDict_Next(vec, &pos, &key, &val)) {
        double v, w;
        if (as_double(val, &v) || idf_of(&ic, key, &w))
            goto fail;
        PyObject *boxed = PyFloat_FromDouble(v * w);
        if (boxed == NULL)
            goto fail;
        int rc = PyDict_SetItem(out, key, boxed);
        Py_DECREF(boxed);
        if (rc)
            goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* squares(sums, idf) -> [(sums[t]·idf[t])² ...], for math.fsum. */
static PyObject *k_squares(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("squares", nargs, 2) || check_dict(args[0], "sums") || check_dict(args[1], "idf"))
        return NULL;
    PyObject *sums = args[0], *idf = args[1], *key, *val;
    Idf ic;
    idf_init(&ic, idf);
    PyObject *out = PyList_New(PyDict_GET_SIZE(sums));
    if (out == NULL)
        return NULL;
    Py_ssize_t pos = 0, i = 0;
    while (PyDict_Next(sums, &pos, &key, &val)) {
        double v, w;
        if (as_double(val, &v) || idf_of(&ic, key, &w))
            goto fail;
        double x = v * w;
        PyObject *boxed = PyFloat_FromDouble(x * x);
        if (boxed == NULL)
            goto fail;
        PyList_SET_ITEM(out, i++, boxed);
    }
    if (i != PyList_GET_SIZE(out)) {
        PyErr_SetString(PyExc_RuntimeError, "squares(): sums changed size during the walk");
        goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

typedef struct {
    double score; /* ascending: the negated weight */
    PyObject *key; /* borrowed */
    PyObject *val; /* borrowed */
    double w; /* its IDF (1.0 without one) */
} Ranked;

static int ranked_error = 0;

static int ranked_cmp(const void *pa, const void *pb) {
    const Ranked *a = pa, *b = pb;
    if (a->score < b->score)
        return -1;
    if (a->score > b->score)
        return 1;
    int c = PyUnicode_Compare(a->key, b->key);
    if (c == -1 && PyErr_Occurred())
        ranked_error = 1;
    return c;
}

/* NAME(h, n, i): restore the heap h[0..n) of TYPE below i, where ABOVE(a, b) says entry *a
 * belongs above *b (one definition for the kernels' max- and min-heaps). */
#define DEFINE_SIFT_DOWN(NAME, TYPE, ABOVE)                                                  \
    static void NAME(TYPE *h, Py_ssize_t n, Py_ssize_t i) {                                   \
        for (;;) {                                                                            \
            Py_ssize_t top = i, l = 2 * i + 1, r = l + 1;                                     \
            if (l < n && ABOVE(&h[l], &h[top]))                                               \
                top = l;                                                                      \
            if (r < n && ABOVE(&h[r], &h[top]))                                               \
                top = r;                                                                      \
            if (top == i)                                                                     \
                return;                                                                       \
            TYPE t = h[i];                                                                    \
            h[i] = h[top];                                                                    \
            h[top] = t;                                                                       \
            i = top;                                                                          \
        }                                                                                     \
    }

/* sift_down keeps its largest entry (by ranked_cmp) on top. */
#define RANKED_ABOVE(a, b) (ranked_cmp((a), (b)) > 0)
DEFINE_SIFT_DOWN(sift_down, Ranked, RANKED_ABOVE)

/* r[0..n) reordered so that its first min(k, n) entries are the smallest by ranked_cmp, in
 * order; returns that count, or -1 when keys could not be compared. */
static Py_ssize_t select_top(Ranked *r, Py_ssize_t n, Py_ssize_t k) {
    ranked_error = 0;
    if (k < 0)
        k = 0;
    if (k < n) { /* the k smallest through a max-heap of k, then sorted */
        for (Py_ssize_t j = k / 2 - 1; j >= 0; j--)
            sift_down(r, k, j);
        for (Py_ssize_t j = k; j < n && k > 0; j++)
            if (ranked_cmp(&r[j], &r[0]) < 0) {
                r[0] = r[j];
                sift_down(r, k, 0);
            }
        n = k;
    }
    qsort(r, (size_t)n, sizeof(Ranked), ranked_cmp);
    return ranked_error ? -1 : n;
}

static inline int is_number_key(PyObject *key) {
    return PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) >= 2 &&
           PyUnicode_READ_CHAR(key, 0) == '@' && PyUnicode_READ_CHAR(key, 1) == '#';
}

/* The k first entries of vec (and of ents' names, keys not starting "@#", when ents is not
 * NULL and shares no key with vec) ranked by (-vec[t]·idf[t], t), or by (-vec[t], t) with idf
 * None, in order; keys are compared as Python compares str (all keys are distinct, so the
 * order is total and any selection method gives the same list). Returns min(k, n) or -1. */
static Py_ssize_t rank_of(PyObject *vec, PyObject *ents, PyObject *idf, Py_ssize_t k,
                          Ranked **out) {
    Py_ssize_t n = PyDict_GET_SIZE(vec) + (ents ? PyDict_GET_SIZE(ents) : 0), i = 0;
    Ranked *r = PyMem_Malloc((n ? n : 1) * sizeof(Ranked));
    if (r == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *key, *val;
    Idf ic;
    if (idf != Py_None)
        idf_init(&ic, idf);
    for (int part = 0; part < (ents ? 2 : 1); part++) {
        PyObject *d = part ? ents : vec;
        Py_ssize_t pos = 0;
        while (PyDict_Next(d, &pos, &key, &val) && i < n) {
            double v, w = 1.0;
            if (!PyUnicode_Check(key)) {
                PyErr_SetString(PyExc_TypeError, "keys must be str");
                goto fail;
            }
            if (part && is_number_key(key))
                continue;
            if (as_double(val, &v) || (idf != Py_None && idf_of(&ic, key, &w)))
                goto fail;
            r[i].score = idf != Py_None ? -v * w : -v;
            r[i].key = key;
            r[i].val = val;
            r[i].w = w;
            i++;
        }
    }
    if ((i = select_top(r, i, k)) < 0)
        goto fail;
    *out = r;
    return i;
fail:
    PyMem_Free(r);
    return -1;
}

static Py_ssize_t rank(PyObject *vec, PyObject *idf, Py_ssize_t k, Ranked **out) {
    return rank_of(vec, NULL, idf, k, out);
}

/* top_keys(vec, idf, k) -> the k keys of heaviest vec[t]·idf[t], ties by key. */
static PyObject *k_top_keys(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("top_keys", nargs, 3) || check_dict(args[0], "vec") || check_dict(args[1], "idf"))
        return NULL;
    Py_ssize_t k = PyLong_AsSsize_t(args[2]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    Ranked *r;
    k = rank(args[0], args[1], k, &r);
    if (k < 0)
        return NULL;
    PyObject *out = PyList_New(k);
    if (out != NULL)
        for (Py_ssize_t i = 0; i < k; i++) {
            Py_INCREF(r[i].key);
            PyList_SET_ITEM(out, i, r[i].key);
        }
    PyMem_Free(r);
    return out;
}

/* heaviest(vec, k) -> {t: vec[t]} of the k largest values, ties by key, heaviest first. */
static PyObject *k_heaviest(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("heaviest", nargs, 2) || check_dict(args[0], "vec"))
        return NULL;
    Py_ssize_t k = PyLong_AsSsize_t(args[1]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    Ranked *r;
    k = rank(args[0], Py_None, k, &r);
    if (k < 0)
        return NULL;
    PyObject *out = PyDict_New();
    for (Py_ssize_t i = 0; out != NULL && i < k; i++)
        if (PyDict_SetItem(out, r[i].key, r[i].val))
            Py_CLEAR(out);
    PyMem_Free(r);
    return out;
}

/* unit_weighted(vec, idf, k) -> the k heaviest of {t: vec[t]·idf[t]} (all, in vec's order,
 * when there are no more than k), divided by their norm and multiplied by idf[t] again. */
static PyObject *k_unit_weighted(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("unit_weighted", nargs, 3) || check_dict(args[0], "vec") ||
        check_dict(args[1], "idf"))
        return NULL;
    PyObject *vec = args[0], *idf = args[1];
    Idf ic;
    idf_init(&ic, idf);
    Py_ssize_t k = PyLong_AsSsize_t(args[2]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(vec), m, pos = 0, i = 0;
    Ranked *r;
    PyObject *key, *val;
    if (n > k) {
        m = rank(vec, idf, k, &r);
        if (m < 0)
            return NULL;
        for (i = 0; i < m; i++)
            r[i].score = -r[i].score; /* back to the weight; negation is exact */
    } else {
        r = PyMem_Malloc((n ? n : 1) * sizeof(Ranked));
        if (r == NULL)
            return PyErr_NoMemory();
        while (PyDict_Next(vec, &pos, &key, &val) && i < n) {
            double v, w;
            if (as_double(val, &v) || idf_of(&ic, key, &w)) {
                PyMem_Free(r);
                return NULL;
            }
            r[i].score = v * w;
            r[i].key = key;
            r[i].w = w;
            i++;
        }
        m = i;
    }
    double sum = 0.0;
    for (i = 0; i < m; i++)
        sum += r[i].score * r[i].score;
    double norm = sqrt(sum);
    PyObject *out = PyDict_New();
    if (norm != 0.0)
        for (i = 0; out != NULL && i < m; i++) {
            /* the IDF looked up when ranking: the same mapping, nothing changed it since */
            PyObject *boxed = PyFloat_FromDouble(r[i].score * r[i].w / norm);
            if (boxed == NULL || PyDict_SetItem(out, r[i].key, boxed))
                Py_CLEAR(out);
            Py_XDECREF(boxed);
        }
    PyMem_Free(r);
    return out;
}

/* names(ents) -> ents without the numbers and dates (keys starting "@#"). */
static PyObject *k_names(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("names", nargs, 1) || check_dict(args[0], "ents"))
        return NULL;
    PyObject *out = PyDict_New(), *key, *val;
    Py_ssize_t pos = 0;
    while (out != NULL && PyDict_Next(args[0], &pos, &key, &val)) {
        if (PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) >= 2 &&
            PyUnicode_READ_CHAR(key, 0) == '@' && PyUnicode_READ_CHAR(key, 1) == '#')
            continue;
        if (PyDict_SetItem(out, key, val))
            Py_CLEAR(out);
    }
    return out;
}

/* count_doc(df, idf, *vecs): one more document holding every key of vecs; a key whose
 * count moved to another 6-significant-bit step loses its cached IDF. */
static PyObject *k_count_doc(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 2) {
        PyErr_SetString(PyExc_TypeError, "count_doc(df, idf, *vecs)");
        return NULL;
    }
    PyObject *df = args[0], *idf = args[1];
    if (check_dict(df, "df") || check_dict(idf, "idf"))
        return NULL;
    for (Py_ssize_t a = 2; a < nargs; a++) {
        PyObject *vec = args[a], *key, *val;
        if (check_dict(vec, "vec"))
            return NULL;
        Py_ssize_t pos = 0;
        while (PyDict_Next(vec, &pos, &key, &val)) {
            long long old = 0;
            PyObject *prev = PyDict_GetItemWithError(df, key);
            if (prev != NULL) {
                old = PyLong_AsLongLong(prev);
                if (old == -1 && PyErr_Occurred())
                    return NULL;
            } else if (PyErr_Occurred()) {
                return NULL;
            }
            PyObject *boxed = PyLong_FromLongLong(old + 1);
            if (boxed == NULL)
                return NULL;
            int rc = PyDict_SetItem(df, key, boxed);
            Py_DECREF(boxed);
            if (rc)
                return NULL;
            if (quantised(old + 1) != quantised(old)) {
                /* pop(key, None) without calling __missing__, and without raising and
                 * clearing a KeyError when nothing is cached (the common case) */
                int has = PyDict_Contains(idf, key);
                if (has < 0 || (has && PyDict_DelItem(idf, key)))
                    return NULL;
            }
        }
    }
    Py_RETURN_NONE;
}

/* missing(df, *vecs) -> [keys of vecs not in df], in order, each once per vec. */
static PyObject *k_missing(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || check_dict(args[0], "df"))
        return NULL;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t a = 1; out != NULL && a < nargs; a++) {
        PyObject *vec = args[a], *key, *val;
        if (check_dict(vec, "vec")) {
            Py_CLEAR(out);
            break;
        }
        Py_ssize_t pos = 0;
        while (PyDict_Next(vec, &pos, &key, &val)) {
            int has = PyDict_Contains(args[0], key);
            if (has < 0 || (!has && PyList_Append(out, key))) {
                Py_CLEAR(out);
                break;
            }
        }
    }
    return out;
}

/* top_keys_of(vec, ents, idf, k) -> top_keys({**vec, **names(ents)}, idf, k), without
 * building the merged dict (unless the two share a key: then it is built). */
static PyObject *k_top_keys_of(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("top_keys_of", nargs, 4) || check_dict(args[0], "vec") ||
        check_dict(args[1], "ents") || check_dict(args[2], "idf"))
        return NULL;
    PyObject *vec = args[0], *ents = args[1], *merged = NULL, *key, *val;
    Py_ssize_t k = PyLong_AsSsize_t(args[3]), pos = 0;
    if (k == -1 && PyErr_Occurred())
        return NULL;
    while (PyDict_Next(ents, &pos, &key, &val)) {
        if (is_number_key(key))
            continue;
        int has = PyDict_Contains(vec, key);
        if (has < 0)
            return NULL;
        if (has) { /* a shared key: ents' value wins, at vec's place, as in {**a, **b} */
            merged = PyDict_Copy(vec);
            if (merged == NULL)
                return NULL;
            pos = 0;
            while (PyDict_Next(ents, &pos, &key, &val))
                if (!is_number_key(key) && PyDict_SetItem(merged, key, val)) {
                    Py_DECREF(merged);
                    return NULL;
                }
            break;
        }
    }
    Ranked *r;
    k = merged ? rank_of(merged, NULL, args[2], k, &r) : rank_of(vec, ents, args[2], k, &r);
    PyObject *out = k < 0 ? NULL : PyList_New(k);
    if (out != NULL)
        for (Py_ssize_t i = 0; i < k; i++) {
            Py_INCREF(r[i].key);
            PyList_SET_ITEM(out, i, r[i].key);
        }
    if (k >= 0)
        PyMem_Free(r);
    Py_XDECREF(merged);
    return out;
}

/* math.fsum's algorithm (CPython's Mathmodule.c, Shewchuk's exact partials with its
 * half-even correction across partials): the exactly rounded sum, so the same float as
 * math.fsum over the same values in any order. */
typedef struct {
    double *p, ps[32], special, inf;
    Py_ssize_t n, m;
} Fsum;

static void fsum_init(Fsum *f) {
    f->p = f->ps;
    f->n = 0;
    f->m = 32;
    f->special = f->inf = 0.0;
}

static void fsum_free(Fsum *f) {
    if (f->p != f->ps)
        PyMem_Free(f->p);
}

static int fsum_add(Fsum *f, double x) {
    double xsave = x, y, t, hi, yr, lo, *p = f->p;
    Py_ssize_t i, j, n = f->n;
    for (i = j = 0; j < n; j++) {
        y = p[j];
        if (fabs(x) < fabs(y)) {
            t = x;
            x = y;
            y = t;
        }
        hi = x + y;
        yr = hi - x;
        lo = y - yr;
        if (lo != 0.0)
            p[i++] = lo;
        x = hi;
    }
    n = i;
    if (x != 0.0) {
        if (!isfinite(x)) {
            if (isfinite(xsave)) {
                PyErr_SetString(PyExc_OverflowError, "intermediate overflow in fsum");
                return -1;
            }
            if (isinf(xsave))
                f->inf += xsave;
            f->special += xsave;
            n = 0;
        } else {
            if (n >= f->m) {
                Py_ssize_t m = f->m * 2;
                double *q = PyMem_Malloc(m * sizeof(double));
                if (q == NULL) {
                    PyErr_NoMemory();
                    return -1;
                }
                memcpy(q, p, n * sizeof(double));
                if (p != f->ps)
                    PyMem_Free(p);
                f->p = p = q;
                f->m = m;
            }
            p[n++] = x;
        }
    }
    f->n = n;
    return 0;
}

static int fsum_result(Fsum *f, double *out) {
    double x, y, hi, yr, lo = 0.0, *p = f->p;
    Py_ssize_t n = f->n;
    if (f->special != 0.0) {
        if (isnan(f->inf)) {
            PyErr_SetString(PyExc_ValueError, "-inf + inf in fsum");
            return -1;
        }
        *out = f->special;
        return 0;
    }
    hi = 0.0;
    if (n > 0) {
        hi = p[--n];
        while (n > 0) {
            x = hi;
            y = p[--n];
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                break;
        }
        if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
            y = lo * 2.0;
            x = hi + y;
            yr = x - hi;
            if (y == yr)
                hi = x;
        }
    }
    *out = hi;
    return 0;
}

/* sqrt(fsum([(sums[t]·idf[t])² ...])) over sums' keys (only the names, not "@#" keys, when
 * names_only); 0.0 for an empty dict. */
static int idf_norm(PyObject *sums, Idf *ic, int names_only, double *out) {
    Fsum f;
    fsum_init(&f);
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    int rc = 0;
    while (PyDict_Next(sums, &pos, &key, &val)) {
        double v, w;
        if (names_only && is_number_key(key))
            continue;
        if (as_double(val, &v) || idf_of(ic, key, &w)) {
            rc = -1;
            break;
        }
        double x = v * w;
        if (fsum_add(&f, x * x)) {
            rc = -1;
            break;
        }
    }
    double total = 0.0;
    if (rc == 0 && (rc = fsum_result(&f, &total)) == 0)
        *out = sqrt(total);
    fsum_free(&f);
    return rc;
}

/* idf_norms(text, ents, xling, idf) -> (|text·idf|, |names(ents)·idf|, |xling·idf|), each
 * sum exactly rounded (fsum). */
static PyObject *k_idf_norms(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("idf_norms", nargs, 4) || check_dict(args[0], "text") ||
        check_dict(args[1], "ents") || check_dict(args[2], "xling") || check_dict(args[3], "idf"))
        return NULL;
    Idf ic;
    idf_init(&ic, args[3]);
    double norms[3];
    for (int j = 0; j < 3; j++)
        if (idf_norm(args[j], &ic, j == 1, &norms[j]))
            return NULL;
    return Py_BuildValue("(ddd)", norms[0], norms[1], norms[2]);
}

/* ranked_threads(index, query, threads) -> the threads indexed under any key of query, most
 * keys shared first, then by (created_seq, id). Thread ids are ints. A posting is a set of
 * ids, or a dict id → the thread's created_seq (``State.index``): then the order is known
 * without touching the threads, of which only those taken are looked up. */
typedef struct {
    long long tid, created;
    Py_ssize_t count;
    PyObject *obj; /* borrowed: the id as indexed, then (``resolve``) the thread */
    int known;     /* created is known: read from the posting (a dict id → created_seq) */
} Cand;

static int cand_cmp(const void *pa, const void *pb) {
    const Cand *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return (a->tid > b->tid) - (a->tid < b->tid);
}

/* A level longer than this is walked through a heap rather than sorted whole. */
#define CAND_SORT_MAX 48

/* cand_sift_down keeps its first candidate (by cand_cmp) on top. */
#define CAND_ABOVE(a, b) (cand_cmp((a), (b)) < 0)
DEFINE_SIFT_DOWN(cand_sift_down, Cand, CAND_ABOVE)

/* h[0..n) as a min-heap by cand_cmp. */
static void cand_heapify(Cand *h, Py_ssize_t n) {
    for (Py_ssize_t i = n / 2 - 1; i >= 0; i--)
        cand_sift_down(h, n, i);
}

static PyObject *str_created_seq;

/* The threads indexed under the keys of ``query`` with how many keys each shares: fills
 * *out (PyMem_Malloc'ed; ids and borrowed id objects) and returns how many, or -1. */
static Py_ssize_t count_shared(PyObject *index, PyObject *query, Cand **out) {
    Cand *cands = NULL;
    Py_ssize_t *table = NULL;
    Py_ssize_t nq = PySequence_Fast_GET_SIZE(query), total = 0, used = 0;
    PyObject **keys = PySequence_Fast_ITEMS(query);
    for (Py_ssize_t q = 0; q < nq; q++) {
        PyObject *posting = PyDict_GetItemWithError(index, keys[q]);
        if (posting == NULL && PyErr_Occurred())
            goto done;
        if (posting != NULL) {
            Py_ssize_t len = PyObject_Size(posting);
            if (len < 0)
                goto done;
            total += len;
        }
    }
    size_t cap = 16;
    while (cap < (size_t)total * 2)
        cap <<= 1;
    cands = PyMem_Malloc((total ? total : 1) * sizeof(Cand));
    table = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    if (cands == NULL || table == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(table, 0xff, cap * sizeof(Py_ssize_t)); /* -1: empty */
    for (Py_ssize_t q = 0; q < nq; q++) {
        PyObject *posting = PyDict_GetItemWithError(index, keys[q]), *tid;
        if (posting == NULL) {
            if (PyErr_Occurred())
                goto done;
            continue;
        }
#if PY_VERSION_HEX < 0x030D0000
        /* a set's entries without an iterator object (borrowed references) */
        int exact_set = PySet_CheckExact(posting);
        Py_ssize_t set_pos = 0;
        Py_hash_t set_hash;
#else
        int exact_set = 0;
#endif
        int exact_dict = PyDict_CheckExact(posting);
        Py_ssize_t dict_pos = 0;
        PyObject *created_obj = NULL;
        PyObject *it = (exact_set || exact_dict) ? NULL : PyObject_GetIter(posting);
        if (!exact_set && !exact_dict && it == NULL)
            goto done;
        for (;;) {
            long long created = 0;
            if (exact_dict) {
                if (!PyDict_Next(posting, &dict_pos, &tid, &created_obj))
                    break;
                created = PyLong_AsLongLong(created_obj);
                if (created == -1 && PyErr_Occurred())
                    goto done;
                Py_INCREF(tid);
            } else
#if PY_VERSION_HEX < 0x030D0000
            if (exact_set) {
                if (!_PySet_NextEntry(posting, &set_pos, &tid, &set_hash))
                    break;
                Py_INCREF(tid);
            } else
#endif
            if ((tid = PyIter_Next(it)) == NULL)
                break;
            long long v = PyLong_AsLongLong(tid);
            if (v == -1 && PyErr_Occurred()) {
                Py_DECREF(tid);
                Py_XDECREF(it);
                goto done;
            }
            size_t h = ((unsigned long long)v * 0x9E3779B97F4A7C15ULL) >> 7;
            for (;; h++) {
                Py_ssize_t slot = table[h & (cap - 1)];
                if (slot < 0) {
                    if (used >= total) { /* a posting grew while walked */
                        Py_DECREF(tid);
                        Py_XDECREF(it);
                        PyErr_SetString(PyExc_RuntimeError, "index changed during the walk");
                        goto done;
                    }
                    table[h & (cap - 1)] = used;
                    cands[used].tid = v;
                    cands[used].count = 1;
                    cands[used].obj = tid; /* the posting holds it */
                    cands[used].created = created;
                    cands[used].known = exact_dict;
                    used++;
                    break;
                }
                if (cands[slot].tid == v) {
                    cands[slot].count++;
                    if (exact_dict && !cands[slot].known) {
                        cands[slot].created = created;
                        cands[slot].known = 1;
                    }
                    break;
                }
            }
            Py_DECREF(tid);
        }
        Py_XDECREF(it);
        if (PyErr_Occurred())
            goto done;
    }
    PyMem_Free(table);
    *out = cands;
    return used;
done:
    PyMem_Free(cands);
    PyMem_Free(table);
    return -1;
}

/* The thread of cand (borrowed from ``threads``), or NULL with KeyError. */
static PyObject *thread_of(Cand *cand, PyObject *threads) {
    PyObject *thread = PyDict_GetItemWithError(threads, cand->obj);
    if (thread == NULL && !PyErr_Occurred())
        PyErr_SetObject(PyExc_KeyError, cand->obj);
    return thread;
}

/* Resolve cands[0..n) to their thread objects (borrowed from ``threads``) and creation. */
static int resolve(Cand *cands, Py_ssize_t n, PyObject *threads) {
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *thread = thread_of(&cands[i], threads);
        if (thread == NULL)
            return -1;
        PyObject *created = PyObject_GetAttr(thread, str_created_seq);
        if (created == NULL)
            return -1;
        cands[i].created = PyLong_AsLongLong(created);
        Py_DECREF(created);
        if (cands[i].created == -1 && PyErr_Occurred())
            return -1;
        cands[i].obj = thread;
    }
    return 0;
}

static PyObject *k_ranked_threads(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("ranked_threads", nargs, 3) || check_dict(args[0], "index") ||
        check_dict(args[2], "threads"))
        return NULL;
    PyObject *query = PySequence_Fast(args[1], "query must be a sequence"), *out = NULL;
    if (query == NULL)
        return NULL;
    Cand *cands = NULL;
    Py_ssize_t used = count_shared(args[0], query, &cands);
    if (used < 0 || resolve(cands, used, args[2]))
        goto done;
    qsort(cands, (size_t)used, sizeof(Cand), cand_cmp);
    out = PyList_New(used);
    if (out != NULL)
        for (Py_ssize_t i = 0; i < used; i++) {
            Py_INCREF(cands[i].obj);
            PyList_SET_ITEM(out, i, cands[i].obj);
        }
done:
    PyMem_Free(cands);
    Py_DECREF(query);
    return out;
}

/* first_ranked(index, query, threads, accept, limit) -> the first ``limit`` threads of
 * ranked_threads(index, query, threads) for which accept(thread) is true. Threads sharing
 * many keys come first, so the many that share one key are looked up and sorted only when
 * the better ranks did not fill the list. */
static PyObject *k_first_ranked(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("first_ranked", nargs, 5) || check_dict(args[0], "index") ||
        check_dict(args[2], "threads"))
        return NULL;
    Py_ssize_t limit = PyLong_AsSsize_t(args[4]);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    PyObject *query = PySequence_Fast(args[1], "query must be a sequence"), *out = NULL;
    if (query == NULL)
        return NULL;
    Cand *cands = NULL, *order = NULL;
    Py_ssize_t used = count_shared(args[0], query, &cands), top = 0;
    if (used < 0)
        goto done;
    out = PyList_New(0);
    order = PyMem_Malloc((used ? used : 1) * sizeof(Cand));
    if (out == NULL || order == NULL) {
        if (order == NULL)
            PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    for (Py_ssize_t i = 0; i < used; i++)
        if (cands[i].count > top)
            top = cands[i].count;
    for (Py_ssize_t count = top; count >= 1 && PyList_GET_SIZE(out) < limit; count--) {
        Py_ssize_t m = 0;
        for (Py_ssize_t i = 0; i < used; i++)
            if (cands[i].count == count)
                order[m++] = cands[i];
        if (m == 0)
            continue;
        int known = 1;
        for (Py_ssize_t i = 0; i < m && known; i++)
            known = order[i].known;
        if (!known && resolve(order, m, args[2])) {
            Py_CLEAR(out);
            goto done;
        }
        /* Few of a long level are looked at (the list is nearly full by then): a heap
         * gives them in the same order as sorting all of them, for O(m) instead of
         * O(m log m). */
        int heap = m > CAND_SORT_MAX;
        if (heap)
            cand_heapify(order, m);
        else
            qsort(order, (size_t)m, sizeof(Cand), cand_cmp);
        for (Py_ssize_t i = 0, left = m; i < m && PyList_GET_SIZE(out) < limit; i++) {
            Cand *next = &order[i];
            if (heap) {
                Cand least = order[0];
                order[0] = order[--left];
                cand_sift_down(order, left, 0);
                order[left] = least; /* popped minima collect at the end, in reverse */
                next = &order[left];
            }
            PyObject *thread = known ? thread_of(next, args[2]) : next->obj;
            if (thread == NULL) {
                Py_CLEAR(out);
                goto done;
            }
            PyObject *verdict = PyObject_CallOneArg(args[3], thread);
            int ok = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
            Py_XDECREF(verdict);
            if (ok < 0 || (ok && PyList_Append(out, thread))) {
                Py_CLEAR(out);
                goto done;
            }
        }
    }
done:
    PyMem_Free(order);
    PyMem_Free(cands);
    Py_DECREF(query);
    return out;
}

/* idf_local(idf, *vecs) -> {t: idf[t]} for every key of vecs, in order. */
static PyObject *k_idf_local(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || check_dict(args[0], "idf"))
        return NULL;
    Idf ic;
    idf_init(&ic, args[0]);
    Py_ssize_t size = 0;
    for (Py_ssize_t a = 1; a < nargs; a++) {
        if (check_dict(args[a], "vec"))
            return NULL;
        size += PyDict_GET_SIZE(args[a]);
    }
    PyObject *out = _PyDict_NewPresized(size), *key, *val;
    for (Py_ssize_t a = 1; out != NULL && a < nargs; a++) {
        Py_ssize_t pos = 0;
        while (PyDict_Next(args[a], &pos, &key, &val)) {
            double w;
            PyObject *boxed = idf_of(&ic, key, &w) ? NULL : PyFloat_FromDouble(w);
            if (boxed == NULL) {
                Py_CLEAR(out);
                break;
            }
            int rc = PyDict_SetItem(out, key, boxed);
            Py_DECREF(boxed);
            if (rc) {
                Py_CLEAR(out);
                break;
            }
        }
    }
    return out;
}

static int ptr_cmp(const void *pa, const void *pb) {
    uintptr_t a = (uintptr_t)*(PyObject *const *)pa, b = (uintptr_t)*(PyObject *const *)pb;
    return (a > b) - (a < b);
}

/* pruned(sums, idf, k, norm) -> ({t: sums[t]} of the k heaviest sums[t]·idf[t] in sums'
 * order, norm less what was dropped: sqrt(norm² − Σ (sums[t]·idf[t])**2) or 0.0). */
static PyObject *k_pruned(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("pruned", nargs, 4) || check_dict(args[0], "sums") ||
        check_dict(args[1], "idf"))
        return NULL;
    PyObject *sums = args[0], *idf = args[1], *key, *val, *out = NULL;
    Py_ssize_t k = PyLong_AsSsize_t(args[2]), pos = 0;
    double norm;
    if ((k == -1 && PyErr_Occurred()) || as_double(args[3], &norm))
        return NULL;
    Ranked *r;
    Py_ssize_t m = rank(sums, idf, k, &r);
    if (m < 0)
        return NULL;
    /* the kept keys by identity (a dict's keys are distinct objects) */
    PyObject **kept = PyMem_Malloc((m ? m : 1) * sizeof(PyObject *));
    if (kept == NULL) {
        PyMem_Free(r);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < m; i++)
        kept[i] = r[i].key;
    PyMem_Free(r);
    qsort(kept, (size_t)m, sizeof(PyObject *), ptr_cmp);
    Idf ic;
    idf_init(&ic, idf);
    double sq = norm * norm;
    PyObject *dict = _PyDict_NewPresized(m);
    if (dict == NULL)
        goto done;
    while (PyDict_Next(sums, &pos, &key, &val)) {
        if (bsearch(&key, kept, (size_t)m, sizeof(PyObject *), ptr_cmp) != NULL) {
            if (PyDict_SetItem(dict, key, val))
                goto done;
            continue;
        }
        double v, w;
        if (as_double(val, &v) || idf_of(&ic, key, &w))
            goto done;
        double x = v * w;
        sq -= x * x;
    }
    out = Py_BuildValue("(Od)", dict, sq > 0 ? sqrt(sq) : 0.0);
done:
    Py_XDECREF(dict);
    PyMem_Free(kept);
    return out;
}

/* pair_scores(threads, weighted, entities, language, start, end, precise, xcos, idf,
 *             dated, undated) -> [probability] of the article joining each thread: what
 * Model.probability(Clusterer.pair(item, thread, weighted)) gives, bit for bit (the tests
 * compare both on every pair of real runs), for a Model of the weights ``dated`` and
 * ``undated``. The threads' norms must be of the current epoch (the caller refreshes them).
 * ``xcos`` is {thread id: language-blind cosine} from the shortlist, or None; ``start`` and
 * ``end`` are the article's datetimes or None. One call per article instead of a Python
 * call, a PairFeatures and a feature tuple per pair. */
static PyObject *str_text, *str_ents, *str_xling, *str_norm_text, *str_norm_ents,
    *str_norm_xling, *str_langs, *str_n, *str_top_ents, *str_first_at, *str_last_end,
    *str_precise_first, *str_precise_end, *str_id;

/* b - a in seconds, as (b - a).total_seconds() computes it: exact microseconds, divided. */
static int seconds_between(PyObject *a, PyObject *b, double *out) {
    PyObject *d = PyNumber_Subtract(b, a);
    if (d == NULL)
        return -1;
    if (!PyDelta_Check(d)) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_TypeError, "dates must be datetimes");
        return -1;
    }
    long long us = ((long long)PyDateTime_DELTA_GET_DAYS(d) * 86400LL +
                    PyDateTime_DELTA_GET_SECONDS(d)) * 1000000LL +
                   PyDateTime_DELTA_GET_MICROSECONDS(d);
    Py_DECREF(d);
    *out = (double)us / 1e6;
    return 0;
}

/* interval_gap_days(a_start, a_end, b_start, b_end) */
static int gap_days(PyObject *as, PyObject *ae, PyObject *bs, PyObject *be, double *out) {
    double x, y;
    if (seconds_between(ae, bs, &x) || seconds_between(be, as, &y))
        return -1;
    double m = x;
    if (y > m)
        m = y;
    if (0.0 > m)
        m = 0.0;
    *out = m / 86400.0;
    return 0;
}

static int attr_double(PyObject *o, PyObject *name, double *out) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL)
        return -1;
    int rc = as_double(v, out);
    Py_DECREF(v);
    return rc;
}

/* cos(x, centroid, norm): dot(x, centroid) / norm, 0 without a norm. */
static int cos_of(PyObject *vec, PyObject *cen, double norm, double *out) {
    if (!PyDict_Check(cen)) {
        PyErr_SetString(PyExc_TypeError, "a thread's sums must be dicts");
        return -1;
    }
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    double dot = 0.0, w, c;
    while (PyDict_Next(vec, &pos, &key, &val)) {
        PyObject *hit = PyDict_GetItemWithError(cen, key);
        if (hit == NULL) {
            if (PyErr_Occurred())
                return -1;
            continue;
        }
        if (as_double(val, &w) || as_double(hit, &c))
            return -1;
        dot += w * c;
    }
    *out = norm != 0.0 ? dot / norm : 0.0;
    return 0;
}

/* Clusterer._cos_nums: the fsum-rounded TF-IDF cosine of the numbers written ("@#" keys). */
static int cos_nums(PyObject *mine, double mine_norm, PyObject *ents, Idf *ic, double *out) {
    Fsum dot, sq;
    fsum_init(&dot);
    fsum_init(&sq);
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    int rc = 0;
    while (PyDict_Next(ents, &pos, &key, &val)) {
        double v, w;
        if (!is_number_key(key))
            continue;
        if (as_double(val, &v) || idf_of(ic, key, &w)) {
            rc = -1;
            break;
        }
        double x = v * w;
        PyObject *m = PyDict_GetItemWithError(mine, key);
        if (m == NULL && PyErr_Occurred()) {
            rc = -1;
            break;
        }
        double mv;
        if (m != NULL && (as_double(m, &mv) || fsum_add(&dot, x * mv))) {
            rc = -1;
            break;
        }
        if (fsum_add(&sq, x * x)) {
            rc = -1;
            break;
        }
    }
    double d = 0.0, s = 0.0;
    if (rc == 0 && (rc = fsum_result(&dot, &d)) == 0 && d != 0.0 &&
        (rc = fsum_result(&sq, &s)) == 0)
        d = d / (mine_norm * sqrt(s));
    fsum_free(&dot);
    fsum_free(&sq);
    *out = d;
    return rc;
}

static int weights_of(PyObject *w, Py_ssize_t want, double *out) {
    if (!PyTuple_Check(w) || PyTuple_GET_SIZE(w) != want) {
        PyErr_Format(PyExc_ValueError, "model weights must be a tuple of %zd floats", want);
        return -1;
    }
    for (Py_ssize_t i = 0; i < want; i++)
        if (as_double(PyTuple_GET_ITEM(w, i), &out[i]))
            return -1;
    return 0;
}

#define N_DATED 12
#define N_UNDATED 10

static double logistic(const double *w, const double *x, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += w[i + 1] * x[i];
    double z = w[0] + s;
    double m = z < 30.0 ? z : 30.0; /* max(-30.0, min(30.0, z)) as Python picks */
    double c = m > -30.0 ? m : -30.0;
    return 1.0 / (1.0 + exp(-c));
}

/* One (article, thread) probability; -1 with an exception set on a bad value. */
static int pair_one(PyObject *t, PyObject *const *args, Idf *ic, PyObject *mine,
                    double mine_norm, const double *wd, const double *wu, double *out) {
    PyObject *text_w = NULL, *ents_w = NULL, *xl_w = NULL, *top = NULL;
    PyObject *weighted = args[1], *entities = args[2], *lang = args[3], *start = args[4],
             *end = args[5], *xcos = args[7];
    int precise = PyObject_IsTrue(args[6]);
    if (precise < 0)
        return -1;
    text_w = PyTuple_GET_ITEM(weighted, 0);
    ents_w = PyTuple_GET_ITEM(weighted, 1);
    xl_w = PyTuple_GET_ITEM(weighted, 2);
    top = PyTuple_GET_ITEM(weighted, 3);

    PyObject *text = NULL, *ents = NULL, *xling = NULL, *langs = NULL, *top_ents = NULL,
             *first = NULL, *last = NULL, *pfirst = NULL, *pend = NULL, *tid = NULL, *nobj = NULL;
    int rc = -1;
    double norm_text, norm_ents, norm_xling;
    if (attr_double(t, str_norm_text, &norm_text) || attr_double(t, str_norm_ents, &norm_ents) ||
        attr_double(t, str_norm_xling, &norm_xling))
        return -1;
    if ((text = PyObject_GetAttr(t, str_text)) == NULL ||
        (ents = PyObject_GetAttr(t, str_ents)) == NULL ||
        (xling = PyObject_GetAttr(t, str_xling)) == NULL ||
        (langs = PyObject_GetAttr(t, str_langs)) == NULL ||
        (top_ents = PyObject_GetAttr(t, str_top_ents)) == NULL ||
        (first = PyObject_GetAttr(t, str_first_at)) == NULL ||
        (last = PyObject_GetAttr(t, str_last_end)) == NULL ||
        (pfirst = PyObject_GetAttr(t, str_precise_first)) == NULL ||
        (pend = PyObject_GetAttr(t, str_precise_end)) == NULL ||
        (tid = PyObject_GetAttr(t, str_id)) == NULL || (nobj = PyObject_GetAttr(t, str_n)) == NULL)
        goto done;
    if (!PyDict_Check(ents) || !PyDict_Check(langs) || !PyTuple_Check(top_ents)) {
        PyErr_SetString(PyExc_TypeError, "not a Thread");
        goto done;
    }
    long long n = PyLong_AsLongLong(nobj);
    if (n == -1 && PyErr_Occurred())
        goto done;

    /* time */
    int dated = start != Py_None && end != Py_None && last != Py_None, coarse = 0;
    double gap = 0.0;
    if (dated) {
        if (precise && pfirst != Py_None && pend != Py_None) {
            if (gap_days(start, end, pfirst, pend, &gap))
                goto done;
        } else {
            if (gap_days(start, end, first, last, &gap))
                goto done;
            coarse = 1;
        }
    }
    /* language share */
    double same_lang = 0.0;
    if (n) {
        PyObject *c = PyDict_GetItemWithError(langs, lang);
        if (c == NULL && PyErr_Occurred())
            goto done;
        long long k = 0;
        if (c != NULL && (k = PyLong_AsLongLong(c)) == -1 && PyErr_Occurred())
            goto done;
        same_lang = (double)k / (double)n;
    }
    /* entity cover, both ways */
    double total = 0.0, found = 0.0, w;
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(top, &pos, &key, &val)) {
        if (as_double(val, &w))
            goto done;
        total += w;
    }
    pos = 0;
    while (PyDict_Next(top, &pos, &key, &val)) {
        int has = PyDict_Contains(ents, key);
        if (has < 0 || as_double(val, &w))
            goto done;
        if (has)
            found += w;
    }
    double cover_item = total != 0.0 ? found / total : 0.0;
    Py_ssize_t nt = PyTuple_GET_SIZE(top_ents), hits = 0;
    for (Py_ssize_t i = 0; i < nt; i++) {
        int has = PyDict_Contains(entities, PyTuple_GET_ITEM(top_ents, i));
        if (has < 0)
            goto done;
        hits += has;
    }
    double cover_thread = nt ? (double)hits / (double)nt : 0.0;
    /* cosines */
    double c_text, c_ents, c_xl;
    PyObject *known = NULL;
    if (xcos != Py_None && (known = PyDict_GetItemWithError(xcos, tid)) == NULL && PyErr_Occurred())
        goto done;
    if (known != NULL) {
        if (as_double(known, &c_xl))
            goto done;
    } else if (cos_of(xl_w, xling, norm_xling, &c_xl)) {
        goto done;
    }
    if (cos_of(text_w, text, norm_text, &c_text) || cos_of(ents_w, ents, norm_ents, &c_ents))
        goto done;
    /* Model.probability(vector(features)) */
    double log_n = log((double)(1 + n)), other = 1.0 - same_lang, x[N_DATED];
    x[0] = c_text;
    x[1] = c_ents;
    x[2] = c_xl;
    x[3] = c_ents * other;
    x[4] = c_xl * other;
    x[5] = same_lang;
    x[6] = cover_item;
    x[7] = cover_thread;
    if (!dated) {
        double nums = 0.0;
        if (mine != NULL && cos_nums(mine, mine_norm, ents, ic, &nums))
            goto done;
        x[8] = nums;
        x[9] = log_n;
        *out = logistic(wu, x, N_UNDATED);
    } else {
        double agree = (c_ents + c_xl) / 2.0;
        double close = coarse ? 0.0 : exp(-gap / 3.0);
        double far = gap;
        if (60.0 < far)
            far = 60.0;
        x[8] = close * agree;
        x[9] = (double)coarse * agree;
        x[10] = far / 30.0;
        x[11] = log_n;
        *out = logistic(wd, x, N_DATED);
    }
    rc = 0;
done:
    Py_XDECREF(text);
    Py_XDECREF(ents);
    Py_XDECREF(xling);
    Py_XDECREF(langs);
    Py_XDECREF(top_ents);
    Py_XDECREF(first);
    Py_XDECREF(last);
    Py_XDECREF(pfirst);
    Py_XDECREF(pend);
    Py_XDECREF(tid);
    Py_XDECREF(nobj);
    return rc;
}

static PyObject *k_pair_scores(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("pair_scores", nargs, 11))
        return NULL;
    PyObject *threads = args[0], *weighted = args[1], *entities = args[2];
    if (!PyList_Check(threads) || !PyTuple_Check(weighted) || PyTuple_GET_SIZE(weighted) != 4 ||
        check_dict(entities, "entities") || check_dict(args[8], "idf") ||
        (args[7] != Py_None && check_dict(args[7], "xcos")))
        return PyErr_Occurred() ? NULL
                                : (PyErr_SetString(PyExc_TypeError, "bad pair_scores arguments"),
                                   NULL);
    for (int i = 0; i < 4; i++)
        if (check_dict(PyTuple_GET_ITEM(weighted, i), "weighted"))
            return NULL;
    double wd[N_DATED + 1], wu[N_UNDATED + 1];
    if (weights_of(args[9], N_DATED + 1, wd) || weights_of(args[10], N_UNDATED + 1, wu))
        return NULL;
    Idf ic;
    idf_init(&ic, args[8]);
    /* The article's numbers, scaled by IDF (only undated pairs use them). */
    PyObject *mine = NULL, *out = NULL, *key, *val;
    double mine_norm = 0.0;
    int undated_item = args[4] == Py_None || args[5] == Py_None;
    Py_ssize_t pos = 0, nth = PyList_GET_SIZE(threads);
    int need = undated_item;
    for (Py_ssize_t i = 0; i < nth && !need; i++) {
        PyObject *last = PyObject_GetAttr(PyList_GET_ITEM(threads, i), str_last_end);
        if (last == NULL)
            return NULL;
        need = last == Py_None;
        Py_DECREF(last);
    }
    if (need) {
        Fsum sq;
        fsum_init(&sq);
        mine = PyDict_New();
        if (mine == NULL)
            return NULL;
        while (PyDict_Next(entities, &pos, &key, &val)) {
            double v, w;
            if (!is_number_key(key))
                continue;
            PyObject *x;
            if (as_double(val, &v) || idf_of(&ic, key, &w) ||
                (x = PyFloat_FromDouble(v * w)) == NULL)
                goto fail;
            int bad = PyDict_SetItem(mine, key, x);
            Py_DECREF(x);
            if (bad || fsum_add(&sq, (v * w) * (v * w)))
                goto fail;
        }
        double s = 0.0;
        if (fsum_result(&sq, &s))
            goto fail;
        mine_norm = sqrt(s);
        fsum_free(&sq);
        if (PyDict_GET_SIZE(mine) == 0)
            Py_CLEAR(mine);
        goto scored;
    fail:
        fsum_free(&sq);
        Py_DECREF(mine);
        return NULL;
    }
scored:
    out = PyList_New(nth);
    if (out == NULL)
        goto end;
    for (Py_ssize_t i = 0; i < nth; i++) {
        double p;
        PyObject *f;
        if (pair_one(PyList_GET_ITEM(threads, i), args, &ic, mine, mine_norm, wd, wu, &p) ||
            (f = PyFloat_FromDouble(p)) == NULL) {
            Py_CLEAR(out);
            goto end;
        }
        PyList_SET_ITEM(out, i, f);
    }
end:
    Py_XDECREF(mine);
    return out;
}

/* Entries ordered by key alone, as sorted() orders str keys. */
static int key_cmp(const void *pa, const void *pb) {
    const Ranked *a = pa, *b = pb;
    int c = PyUnicode_Compare(a->key, b->key);
    if (c == -1 && PyErr_Occurred())
        ranked_error = 1;
    return c;
}

static PyObject *dict_by_key(Ranked *r, Py_ssize_t n, int scaled, double norm) {
    ranked_error = 0;
    qsort(r, (size_t)n, sizeof(Ranked), key_cmp);
    if (ranked_error)
        return NULL;
    PyObject *out = PyDict_New();
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *v = scaled ? PyFloat_FromDouble(-r[i].score / norm) : r[i].val;
        if (v == NULL || PyDict_SetItem(out, r[i].key, v))
            Py_CLEAR(out);
        if (scaled)
            Py_XDECREF(v);
    }
    return out;
}

/* sorted_cut(vec, idf, k) -> {t: vec[t]} of the k keys of heaviest vec[t]·idf[t] (all when
 * there are no more than k), in key order. */
static PyObject *k_sorted_cut(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("sorted_cut", nargs, 3) || check_dict(args[0], "vec") ||
        check_dict(args[1], "idf"))
        return NULL;
    Py_ssize_t k = PyLong_AsSsize_t(args[2]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    PyObject *vec = args[0], *key, *val;
    Py_ssize_t n = PyDict_GET_SIZE(vec), m = 0, pos = 0;
    Ranked *r;
    if (n > k) {
        if ((m = rank(vec, args[1], k, &r)) < 0)
            return NULL;
    } else {
        if ((r = PyMem_Malloc((n ? n : 1) * sizeof(Ranked))) == NULL)
            return PyErr_NoMemory();
        while (PyDict_Next(vec, &pos, &key, &val) && m < n) {
            if (!PyUnicode_Check(key)) {
                PyMem_Free(r);
                PyErr_SetString(PyExc_TypeError, "keys must be str");
                return NULL;
            }
            r[m].key = key;
            r[m].val = val;
            m++;
        }
    }
    PyObject *out = dict_by_key(r, m, 0, 1.0);
    PyMem_Free(r);
    return out;
}

/* member_vec(terms, ents, xling, idf, k) -> the k heaviest of {t: v·idf[t]} over the three
 * dicts (ties by key), in key order, divided by their norm (fsum-rounded); {} when it is 0. */
static PyObject *k_member_vec(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("member_vec", nargs, 5) || check_dict(args[0], "terms") ||
        check_dict(args[1], "ents") || check_dict(args[2], "xling") || check_dict(args[3], "idf"))
        return NULL;
    Py_ssize_t k = PyLong_AsSsize_t(args[4]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(args[0]) + PyDict_GET_SIZE(args[1]) + PyDict_GET_SIZE(args[2]);
    Ranked *r = PyMem_Malloc((n ? n : 1) * sizeof(Ranked));
    if (r == NULL)
        return PyErr_NoMemory();
    Idf ic;
    idf_init(&ic, args[3]);
    Py_ssize_t m = 0;
    PyObject *key, *val, *out = NULL;
    for (int part = 0; part < 3; part++) {
        Py_ssize_t pos = 0;
        while (PyDict_Next(args[part], &pos, &key, &val) && m < n) {
            double v, w;
            if (!PyUnicode_Check(key)) {
                PyErr_SetString(PyExc_TypeError, "keys must be str");
                goto done;
            }
            if (as_double(val, &v) || idf_of(&ic, key, &w))
                goto done;
            r[m].score = -(v * w);
            r[m].key = key;
            r[m].val = val;
            r[m].w = w;
            m++;
        }
    }
    if ((m = select_top(r, m, k)) < 0)
        goto done;
    Fsum f;
    fsum_init(&f);
    int bad = 0;
    for (Py_ssize_t i = 0; i < m && !bad; i++)
        bad = fsum_add(&f, r[i].score * r[i].score);
    double total = 0.0;
    bad = bad || fsum_result(&f, &total);
    fsum_free(&f);
    if (bad)
        goto done;
    double norm = sqrt(total);
    out = norm != 0.0 ? dict_by_key(r, m, 1, norm) : PyDict_New();
done:
    PyMem_Free(r);
    return out;
}

/* dots(vecs, vec) -> [dot(v, vec) for v in vecs]. */
static PyObject *k_dots(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("dots", nargs, 2) || check_dict(args[1], "vec"))
        return NULL;
    if (!PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "vecs must be a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(args[0]);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *v = PyList_GET_ITEM(args[0], i), *f;
        double d;
        if (check_dict(v, "vecs[i]") || cos_of(v, args[1], 1.0, &d) ||
            (f = PyFloat_FromDouble(d)) == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, f);
    }
    return out;
}

/* split_groups(tri) -> (a, b, between, inner): kernels.split_groups, the split repair's two
 * groups of members and their similarities. */
static PyObject *k_split_groups(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("split_groups", nargs, 1))
        return NULL;
    PyObject *tri = args[0];
    if (!PyList_Check(tri) || PyList_GET_SIZE(tri) < 2 || PyList_GET_SIZE(tri) > 4096) {
        PyErr_SetString(PyExc_ValueError, "tri must be a list of 2 to 4096 rows");
        return NULL;
    }
    int n = (int)PyList_GET_SIZE(tri);
    double *sims = PyMem_Malloc((size_t)n * n * sizeof(double));
    unsigned char *in_a = PyMem_Malloc(2 * (size_t)n), *next = in_a + n;
    PyObject *a = NULL, *b = NULL, *out = NULL;
    if (sims == NULL || in_a == NULL) {
        PyErr_NoMemory();
        goto done;
    }
#define SIM(i, j) sims[(size_t)(i) * n + (j)]
    for (int i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(tri, i);
        if (!PyList_Check(row) || PyList_GET_SIZE(row) != i) {
            PyErr_SetString(PyExc_ValueError, "row i of tri must hold i floats");
            goto done;
        }
        SIM(i, i) = 0.0;
        for (int j = 0; j < i; j++) {
            if (as_double(PyList_GET_ITEM(row, j), &SIM(i, j)))
                goto done;
            SIM(j, i) = SIM(i, j);
        }
    }
    int newest = n - 1, far = 0;
    for (int j = 1; j < newest; j++)
        if (SIM(newest, j) < SIM(newest, far))
            far = j;
    /* in_a[i]: member i is in the first group; groups keep index order */
    for (int i = 0; i < n; i++)
        in_a[i] = 2; /* neither, before the first round */
    in_a[newest] = 1;
    in_a[far] = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < n; i++) {
            if (i == newest || i == far) {
                next[i] = i == newest;
                continue;
            }
            double sa = 0.0, sb = 0.0;
            int na = 0, nb = 0;
            for (int j = 0; j < n; j++) {
                if (j == i || in_a[j] == 2)
                    continue;
                if (in_a[j]) {
                    sa += SIM(i, j);
                    na++;
                } else {
                    sb += SIM(i, j);
                    nb++;
                }
            }
            double to_a = na ? sa / na : 0.0, to_b = nb ? sb / nb : 0.0;
            next[i] = to_a >= to_b;
        }
        int same = 1;
        for (int i = 0; i < n; i++)
            same = same && next[i] == in_a[i];
        if (same)
            break;
        memcpy(in_a, next, (size_t)n);
    }
    a = PyList_New(0);
    b = PyList_New(0);
    int na = 0, nb = 0;
    for (int i = 0; a != NULL && b != NULL && i < n; i++) {
        PyObject *ix = PyLong_FromLong(i);
        if (ix == NULL || PyList_Append(in_a[i] ? a : b, ix))
            Py_CLEAR(a);
        Py_XDECREF(ix);
        if (in_a[i])
            na++;
        else
            nb++;
    }
    if (a == NULL || b == NULL)
        goto done;
    double between = 0.0, inner[2] = {0.0, 0.0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (in_a[i] && !in_a[j])
                between += SIM(i, j);
    between /= (double)na * nb;
    for (int g = 0; g < 2; g++) {
        int count = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (in_a[i] == !g && in_a[j] == !g) {
                    inner[g] += SIM(i, j);
                    count++;
                }
        inner[g] = count ? inner[g] / count : NAN;
    }
    if (na < 2 || nb < 2)
        out = Py_BuildValue("(OOdO)", a, b, between, Py_None);
    else
        out = Py_BuildValue("(OOdd)", a, b, between, inner[1] < inner[0] ? inner[1] : inner[0]);
#undef SIM
done:
    PyMem_Free(sims);
    PyMem_Free(in_a);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return out;
}

/* cross_mean(vecs_a, vecs_b) -> the mean of dot(a, b) for a in vecs_a for b in vecs_b, added
 * in that order. */
static PyObject *k_cross_mean(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("cross_mean", nargs, 2))
        return NULL;
    if (!PyList_Check(args[0]) || !PyList_Check(args[1]) || !PyList_GET_SIZE(args[0]) ||
        !PyList_GET_SIZE(args[1])) {
        PyErr_SetString(PyExc_ValueError, "cross_mean needs two non-empty lists of dicts");
        return NULL;
    }
    Py_ssize_t na = PyList_GET_SIZE(args[0]), nb = PyList_GET_SIZE(args[1]);
    double total = 0.0, d;
    for (Py_ssize_t i = 0; i < na; i++)
        for (Py_ssize_t j = 0; j < nb; j++) {
            PyObject *a = PyList_GET_ITEM(args[0], i), *b = PyList_GET_ITEM(args[1], j);
            if (check_dict(a, "vecs_a[i]") || check_dict(b, "vecs_b[j]") || cos_of(a, b, 1.0, &d))
                return NULL;
            total += d;
        }
    return PyFloat_FromDouble(total / (double)(na * nb));
}

/* entity_unit(vec) -> vec's entity keys ("@...") divided by their fsum-rounded norm; {} when
 * it is 0. */
static PyObject *k_entity_unit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("entity_unit", nargs, 1) || check_dict(args[0], "vec"))
        return NULL;
    PyObject *vec = args[0], *key, *val, *out = NULL;
    Py_ssize_t n = PyDict_GET_SIZE(vec), m = 0, pos = 0;
    Ranked *r = PyMem_Malloc((n ? n : 1) * sizeof(Ranked));
    if (r == NULL)
        return PyErr_NoMemory();
    Fsum f;
    fsum_init(&f);
    while (PyDict_Next(vec, &pos, &key, &val) && m < n) {
        double v;
        if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) < 1 ||
            PyUnicode_READ_CHAR(key, 0) != '@')
            continue;
        if (as_double(val, &v) || fsum_add(&f, v * v))
            goto done;
        r[m].key = key;
        r[m].score = v;
        m++;
    }
    double total = 0.0;
    if (fsum_result(&f, &total))
        goto done;
    double norm = sqrt(total);
    out = PyDict_New();
    if (norm != 0.0)
        for (Py_ssize_t i = 0; out != NULL && i < m; i++) {
            PyObject *x = PyFloat_FromDouble(r[i].score / norm);
            if (x == NULL || PyDict_SetItem(out, r[i].key, x))
                Py_CLEAR(out);
            Py_XDECREF(x);
        }
done:
    fsum_free(&f);
    PyMem_Free(r);
    return out;
}

/* title_weight(sums, terms, idf) -> Σ sums.get(t, 0.0)·idf[t] over terms, left to right. */
static PyObject *k_title_weight(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (check_args("title_weight", nargs, 3) || check_dict(args[0], "sums") ||
        check_dict(args[2], "idf"))
        return NULL;
    PyObject *terms = PySequence_Fast(args[1], "terms must be a sequence");
    if (terms == NULL)
        return NULL;
    Idf ic;
    idf_init(&ic, args[2]);
    double total = 0.0;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(terms);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(terms, i), *hit;
        double v = 0.0, w;
        if ((hit = PyDict_GetItemWithError(args[0], t)) == NULL && PyErr_Occurred())
            goto fail;
        if ((hit != NULL && as_double(hit, &v)) || idf_of(&ic, t, &w))
            goto fail;
        total += v * w;
    }
    Py_DECREF(terms);
    return PyFloat_FromDouble(total);
fail:
    Py_DECREF(terms);
    return NULL;
}

static PyMethodDef methods[] = {
    {"dot", (PyCFunction)(void (*)(void))k_dot, METH_FASTCALL, NULL},
    {"add_into", (PyCFunction)(void (*)(void))k_add_into, METH_FASTCALL, NULL},
    {"scaled", (PyCFunction)(void (*)(void))k_scaled, METH_FASTCALL, NULL},
    {"squares", (PyCFunction)(void (*)(void))k_squares, METH_FASTCALL, NULL},
    {"top_keys", (PyCFunction)(void (*)(void))k_top_keys, METH_FASTCALL, NULL},
    {"heaviest", (PyCFunction)(void (*)(void))k_heaviest, METH_FASTCALL, NULL},
    {"unit_weighted", (PyCFunction)(void (*)(void))k_unit_weighted, METH_FASTCALL, NULL},
    {"names", (PyCFunction)(void (*)(void))k_names, METH_FASTCALL, NULL},
    {"count_doc", (PyCFunction)(void (*)(void))k_count_doc, METH_FASTCALL, NULL},
    {"missing", (PyCFunction)(void (*)(void))k_missing, METH_FASTCALL, NULL},
    {"top_keys_of", (PyCFunction)(void (*)(void))k_top_keys_of, METH_FASTCALL, NULL},
    {"idf_norms", (PyCFunction)(void (*)(void))k_idf_norms, METH_FASTCALL, NULL},
    {"pruned", (PyCFunction)(void (*)(void))k_pruned, METH_FASTCALL, NULL},
    {"idf_local", (PyCFunction)(void (*)(void))k_idf_local, METH_FASTCALL, NULL},
    {"ranked_threads", (PyCFunction)(void (*)(void))k_ranked_threads, METH_FASTCALL, NULL},
    {"sorted_cut", (PyCFunction)(void (*)(void))k_sorted_cut, METH_FASTCALL, NULL},
    {"member_vec", (PyCFunction)(void (*)(void))k_member_vec, METH_FASTCALL, NULL},
    {"dots", (PyCFunction)(void (*)(void))k_dots, METH_FASTCALL, NULL},
    {"split_groups", (PyCFunction)(void (*)(void))k_split_groups, METH_FASTCALL, NULL},
    {"cross_mean", (PyCFunction)(void (*)(void))k_cross_mean, METH_FASTCALL, NULL},
    {"entity_unit", (PyCFunction)(void (*)(void))k_entity_unit, METH_FASTCALL, NULL},
    {"title_weight", (PyCFunction)(void (*)(void))k_title_weight, METH_FASTCALL, NULL},
    {"first_ranked", (PyCFunction)(void (*)(void))k_first_ranked, METH_FASTCALL, NULL},
    {"pair_scores", (PyCFunction)(void (*)(void))k_pair_scores, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "newsthreads.stories._kernels",
    "C versions of stories.kernels (same results, bit for bit).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    str_df = PyUnicode_InternFromString("df");
    str_nq1 = PyUnicode_InternFromString("nq1");
    str_created_seq = PyUnicode_InternFromString("created_seq");
    if (str_df == NULL || str_nq1 == NULL || str_created_seq == NULL)
        return NULL;
    PyObject **names[] = {&str_text, &str_ents, &str_xling, &str_norm_text, &str_norm_ents,
                          &str_norm_xling, &str_langs, &str_n, &str_top_ents, &str_first_at,
                          &str_last_end, &str_precise_first, &str_precise_end, &str_id};
    const char *spelled[] = {"text", "ents", "xling", "norm_text", "norm_ents", "norm_xling",
                             "langs", "n", "top_ents", "first_at", "last_end", "precise_first",
                             "precise_end", "id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((*names[i] = PyUnicode_InternFromString(spelled[i])) == NULL)
            return NULL;
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    return PyModule_Create(&module);
}
