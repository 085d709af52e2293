/* The text analysis's hot loops, in C: tokens, name candidates, key counts, MinHash values.
 *
 * Each function here has a pure-Python twin in textkernels.py that defines what it must
 * return (regular expressions, Counter, datasketch's affine32 update); the tests compare the
 * two on random text. Nothing new is computed: the interpreter's per-token overhead and the
 * regex engine's generic matching are what is skipped.
 *
 * A "word character" is what the re module's \w is for str patterns (Modules/_sre/sre.c:
 * SRE_UNI_IS_WORD = Py_UNICODE_ISALNUM or '_'), and \s is Py_UNICODE_ISSPACE, so tokens come
 * out exactly as the regular expressions find them.
 *
 * Kept apart from _kernels.c (the clustering's kernels) so that the two can change
 * independently.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline int is_word(Py_UCS4 ch) {
    return Py_UNICODE_ISALNUM(ch) || ch == '_';
}

static inline int is_joiner(Py_UCS4 ch) { /* [-'’] inside a token */
    return ch == '-' || ch == '\'' || ch == 0x2019;
}

/* _END in analyse.py: what ends a sentence (or opens a quote). */
static inline int is_end(Py_UCS4 ch) {
    switch (ch) {
    case '.': case '!': case '?': case ':': case ';': case 0xAB: case 0xBB: case '"':
    case 0x201C: case 0x201D: case '(': case ')': case '[': case ']': case 0x2013:
    case 0x2014: case '\n':
        return 1;
    default:
        return 0;
    }
}

/* The end of the token r"\w+(?:[-'’]\w+)*" that starts at ``p`` (a word character). */
static Py_ssize_t token_end(int kind, const void *data, Py_ssize_t n, Py_ssize_t p) {
    Py_ssize_t e = p + 1;
    for (;;) {
        while (e < n && is_word(PyUnicode_READ(kind, data, e)))
            e++;
        if (e + 1 < n && is_joiner(PyUnicode_READ(kind, data, e))
            && is_word(PyUnicode_READ(kind, data, e + 1)))
            e += 2;
        else
            return e;
    }
}

/* words(text): _WORD.findall(text). */
static PyObject *k_words(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text) || PyUnicode_READY(text) < 0) {
        PyErr_SetString(PyExc_TypeError, "words() takes a str");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    Py_ssize_t p = 0;
    while (p < n) {
        if (!is_word(PyUnicode_READ(kind, data, p))) {
            p++;
            continue;
        }
        Py_ssize_t e = token_end(kind, data, n, p);
        PyObject *word = PyUnicode_Substring(text, p, e);
        if (word == NULL || PyList_Append(out, word) < 0) {
            Py_XDECREF(word);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(word);
        p = e;
    }
    return out;
}

/* has_token(text, word): word in words(text). Each occurrence of word is checked for being a
 * whole token: the scan starts a token there (a word character not continuing one: neither
 * a word character nor a joiner after one before it) and the token ends where word does. */
static PyObject *k_has_token(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])
        || PyUnicode_READY(args[0]) < 0 || PyUnicode_READY(args[1]) < 0) {
        PyErr_SetString(PyExc_TypeError, "has_token(text: str, word: str)");
        return NULL;
    }
    PyObject *text = args[0], *word = args[1];
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), len = PyUnicode_GET_LENGTH(word), i = 0;
    if (len == 0)
        Py_RETURN_FALSE;
    while ((i = PyUnicode_Find(text, word, i, n, 1)) >= 0) {
        if (is_word(PyUnicode_READ(kind, data, i))
            && !(i >= 1 && is_word(PyUnicode_READ(kind, data, i - 1)))
            && !(i >= 2 && is_joiner(PyUnicode_READ(kind, data, i - 1))
                 && is_word(PyUnicode_READ(kind, data, i - 2)))
            && token_end(kind, data, n, i) == i + len)
            Py_RETURN_TRUE;
        i++;
    }
    if (i == -2)
        return NULL;
    Py_RETURN_FALSE;
}

/* str.islower() of text[p:e], as unicodeobject.c computes it. */
static int span_islower(int kind, const void *data, Py_ssize_t p, Py_ssize_t e) {
    int cased = 0;
    for (Py_ssize_t i = p; i < e; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (Py_UNICODE_ISUPPER(ch) || Py_UNICODE_ISTITLE(ch))
            return 0;
        if (!cased && Py_UNICODE_ISLOWER(ch))
            cased = 1;
    }
    return cased;
}

/* analyse._may_be_name of text[p:e]: not all lower case, capitalised, no digits. */
static int span_may_be_name(int kind, const void *data, Py_ssize_t p, Py_ssize_t e) {
    if (!Py_UNICODE_ISUPPER(PyUnicode_READ(kind, data, p)))
        return 0;
    for (Py_ssize_t i = p; i < e; i++)
        if (Py_UNICODE_ISDIGIT(PyUnicode_READ(kind, data, i)))
            return 0;
    return !span_islower(kind, data, p, e);
}

/* Sentence-initial: the text starts at p, or a sentence end and at most two spaces come
 * right before it (what _WORD_AT's first alternative consumes). */
static int initial_at(int kind, const void *data, Py_ssize_t p) {
    if (p == 0)
        return 1;
    for (Py_ssize_t q = p - 1; q >= 0 && q >= p - 3; q--) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, q);
        if (is_end(ch))
            return 1;
        if (!Py_UNICODE_ISSPACE(ch))
            return 0;
    }
    return 0;
}

/* name_candidates(text): the pairs of analyse._tokens_at(text) whose token may be a name. */
static PyObject *k_name_candidates(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text) || PyUnicode_READY(text) < 0) {
        PyErr_SetString(PyExc_TypeError, "name_candidates() takes a str");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyList_New(0), *empty = PyUnicode_New(0, 0);
    if (out == NULL || empty == NULL)
        goto fail;
    Py_ssize_t p = 0;
    while (p < n) {
        if (!is_word(PyUnicode_READ(kind, data, p))) {
            p++;
            continue;
        }
        Py_ssize_t e = token_end(kind, data, n, p);
        if (span_may_be_name(kind, data, p, e)) {
            PyObject *word = PyUnicode_Substring(text, p, e);
            if (word == NULL)
                goto fail;
            PyObject *pair = initial_at(kind, data, p) ? PyTuple_Pack(2, word, empty)
                                                       : PyTuple_Pack(2, empty, word);
            Py_DECREF(word);
            if (pair == NULL || PyList_Append(out, pair) < 0) {
                Py_XDECREF(pair);
                goto fail;
            }
            Py_DECREF(pair);
        }
        p = e;
    }
    Py_DECREF(empty);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(empty);
    return NULL;
}

/* word_counts(words): Counter(words) as a plain dict, in order of first occurrence. */
static PyObject *k_word_counts(PyObject *self, PyObject *words) {
    if (!PyList_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "word_counts(words: list)");
        return NULL;
    }
    PyObject *counts = PyDict_New();
    if (counts == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(words); i++) {
        PyObject *word = PyList_GET_ITEM(words, i);
        PyObject *old = PyDict_GetItemWithError(counts, word), *now = NULL;
        if (old != NULL) {
            Py_ssize_t c = PyLong_AsSsize_t(old);
            now = c == -1 && PyErr_Occurred() ? NULL : PyLong_FromSsize_t(c + 1);
        } else if (!PyErr_Occurred()) {
            now = PyLong_FromLong(1);
        }
        int rc = now == NULL ? -1 : PyDict_SetItem(counts, word, now);
        Py_XDECREF(now);
        if (rc < 0) {
            Py_DECREF(counts);
            return NULL;
        }
    }
    return counts;
}

/* counts[key] += n, the counts being Python ints. */
static int add_count(PyObject *counts, PyObject *key, PyObject *n) {
    PyObject *old = PyDict_GetItemWithError(counts, key);
    PyObject *now = old != NULL ? PyNumber_Add(old, n) : PyErr_Occurred() ? NULL : Py_NewRef(n);
    int rc = now == NULL ? -1 : PyDict_SetItem(counts, key, now);
    Py_XDECREF(now);
    return rc;
}

/* count_pairs(table, counts): per side of the pair table[word] (None is no key) the sum of
 * the counts of its words, in order of first occurrence; a miss asks the mapping (its
 * __missing__). */
static PyObject *k_count_pairs(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "count_pairs(table: dict, counts: dict)");
        return NULL;
    }
    PyObject *table = args[0], *word, *n;
    PyObject *first = PyDict_New(), *second = PyDict_New();
    if (first == NULL || second == NULL)
        goto fail;
    Py_ssize_t pos = 0;
    while (PyDict_Next(args[1], &pos, &word, &n)) {
        PyObject *pair = PyDict_GetItemWithError(table, word); /* borrowed */
        if (pair != NULL) {
            Py_INCREF(pair);
        } else if (PyErr_Occurred() || (pair = PyObject_GetItem(table, word)) == NULL) {
            goto fail;
        }
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_DECREF(pair);
            PyErr_SetString(PyExc_ValueError, "count_pairs(): table values must be pairs");
            goto fail;
        }
        PyObject *a = PyTuple_GET_ITEM(pair, 0), *b = PyTuple_GET_ITEM(pair, 1);
        int rc = (a != Py_None && add_count(first, a, n) < 0)
                 || (b != Py_None && add_count(second, b, n) < 0);
        Py_DECREF(pair);
        if (rc)
            goto fail;
    }
    PyObject *out = PyTuple_Pack(2, first, second);
    Py_DECREF(first);
    Py_DECREF(second);
    return out;
fail:
    Py_XDECREF(first);
    Py_XDECREF(second);
    return NULL;
}

/* unit(counts): {key: (1 + log(count)) / norm} by sorted key, the norm summed in the counts'
 * order from 0.0 (what sum() does up to Python 3.11; textkernels binds this only there). */
static PyObject *k_unit(PyObject *self, PyObject *counts) {
    if (!PyDict_Check(counts)) {
        PyErr_SetString(PyExc_TypeError, "unit(counts: dict)");
        return NULL;
    }
    PyObject *key, *n, *out = PyDict_New(), *keys = NULL;
    if (out == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    double sq = 0.0;
    while (PyDict_Next(counts, &pos, &key, &n)) {
        double c = PyLong_AsDouble(n);
        if (c == -1.0 && PyErr_Occurred())
            goto fail;
        if (!(c > 0.0)) {
            PyErr_SetString(PyExc_ValueError, "math domain error");
            goto fail;
        }
        double w = 1.0 + log(c);
        sq += w * w;
    }
    double norm = sqrt(sq);
    if (norm == 0.0)
        return out;
    if ((keys = PyDict_Keys(counts)) == NULL || PyList_Sort(keys) < 0)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        key = PyList_GET_ITEM(keys, i);
        n = PyDict_GetItemWithError(counts, key);
        double c = n == NULL ? -1.0 : PyLong_AsDouble(n);
        if (n == NULL || (c == -1.0 && PyErr_Occurred()))
            goto fail;
        PyObject *v = PyFloat_FromDouble((1.0 + log(c)) / norm);
        int rc = v == NULL ? -1 : PyDict_SetItem(out, key, v);
        Py_XDECREF(v);
        if (rc < 0)
            goto fail;
    }
    Py_DECREF(keys);
    return out;
fail:
    Py_XDECREF(keys);
    Py_DECREF(out);
    return NULL;
}

/* shingles(words): frozenset(map(" ".join, zip(words, words[1:], words[2:]))). */
static PyObject *k_shingles(PyObject *self, PyObject *words) {
    if (!PyList_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "shingles(words: list)");
        return NULL;
    }
    PyObject *out = PyFrozenSet_New(NULL);
    if (out == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(words);
    for (Py_ssize_t i = 0; i + 2 < n; i++) {
        PyObject *w[3];
        Py_ssize_t len = 2;
        Py_UCS4 maxchar = ' ';
        for (int k = 0; k < 3; k++) {
            w[k] = PyList_GET_ITEM(words, i + k);
            if (!PyUnicode_Check(w[k]) || PyUnicode_READY(w[k]) < 0) {
                PyErr_SetString(PyExc_TypeError, "shingles(): words must be str");
                goto fail;
            }
            len += PyUnicode_GET_LENGTH(w[k]);
            Py_UCS4 mc = PyUnicode_MAX_CHAR_VALUE(w[k]);
            maxchar = mc > maxchar ? mc : maxchar;
        }
        PyObject *sh = PyUnicode_New(len, maxchar);
        if (sh == NULL)
            goto fail;
        Py_ssize_t at = 0;
        for (int k = 0; k < 3; k++) {
            if (k) {
                PyUnicode_WRITE(PyUnicode_KIND(sh), PyUnicode_DATA(sh), at, ' ');
                at++;
            }
            Py_ssize_t wl = PyUnicode_GET_LENGTH(w[k]);
            if (PyUnicode_CopyCharacters(sh, at, w[k], 0, wl) < 0) {
                Py_DECREF(sh);
                goto fail;
            }
            at += wl;
        }
        int rc = PySet_Add(out, sh);
        Py_DECREF(sh);
        if (rc < 0)
            goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* CRC-32 (the zlib polynomial, reflected), as zlib.crc32 computes it. */
static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_of(const unsigned char *s, Py_ssize_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < n; i++)
        c = crc_table[(c ^ s[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static inline uint32_t fmix32(uint32_t h) { /* MurmurHash3's finalizer */
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

/* crc32 of a str's UTF-8, without caching the encoding in the str (strict: a lone surrogate
 * raises, as str.encode does). */
static int shingle_hash(PyObject *s, uint32_t *out) {
    if (!PyUnicode_Check(s) || PyUnicode_READY(s) < 0) {
        PyErr_SetString(PyExc_TypeError, "shingles must be str");
        return -1;
    }
    if (PyUnicode_IS_ASCII(s)) {
        *out = crc32_of(PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s));
        return 0;
    }
    PyObject *b = PyUnicode_AsUTF8String(s);
    if (b == NULL)
        return -1;
    *out = crc32_of((const unsigned char *)PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return 0;
}

static int uint32_buffer(PyObject *o, Py_buffer *view, int writable) {
    if (PyObject_GetBuffer(o, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
                           | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != 4 || view->format == NULL || strcmp(view->format, "I") != 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "expected a buffer of uint32");
        return -1;
    }
    return 0;
}

/* out[i] = min(out[i], min over j of a[i] * hs[j] + b[i]) for a block of 128 permutations:
 * fixed-size local arrays so that the compiler vectorises the inner loop (AVX2 where the CPU
 * has it: integer arithmetic, so every version gives the same values). */
#define BLOCK 128
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void minhash_block(const uint32_t *a, const uint32_t *b, uint32_t *out,
                          const uint32_t *hs, Py_ssize_t nh) {
    uint32_t aa[BLOCK], bb[BLOCK], mn[BLOCK];
    memcpy(aa, a, sizeof aa);
    memcpy(bb, b, sizeof bb);
    memcpy(mn, out, sizeof mn);
    for (Py_ssize_t j = 0; j < nh; j++) {
        uint32_t h = hs[j];
        for (int i = 0; i < BLOCK; i++) {
            uint32_t v = aa[i] * h + bb[i];
            mn[i] = v < mn[i] ? v : mn[i];
        }
    }
    memcpy(out, mn, sizeof mn);
}

/* The permuted minima of hashes hs into out (m permutations). */
static void minhash_values(const uint32_t *a, const uint32_t *b, uint32_t *out, Py_ssize_t m,
                           const uint32_t *hs, Py_ssize_t nh) {
    Py_ssize_t i = 0;
    for (; i + BLOCK <= m; i += BLOCK)
        minhash_block(a + i, b + i, out + i, hs, nh);
    for (; i < m; i++)
        for (Py_ssize_t j = 0; j < nh; j++) {
            uint32_t v = a[i] * hs[j] + b[i];
            out[i] = v < out[i] ? v : out[i];
        }
}

/* minhash_into(shingles, a, b, out): datasketch's affine32 MinHash of the shingles into
 * ``out``: per permutation i the least (a[i] * fmix32(crc32(utf8(s))) + b[i]) mod 2**32,
 * 0xFFFFFFFF when there are none. */
static PyObject *k_minhash_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "minhash_into(shingles, a, b, out)");
        return NULL;
    }
    Py_buffer va, vb, vo;
    if (uint32_buffer(args[1], &va, 0) < 0)
        return NULL;
    if (uint32_buffer(args[2], &vb, 0) < 0) {
        PyBuffer_Release(&va);
        return NULL;
    }
    if (uint32_buffer(args[3], &vo, 1) < 0) {
        PyBuffer_Release(&va);
        PyBuffer_Release(&vb);
        return NULL;
    }
    PyObject *result = NULL, *iter = NULL, *item;
    uint32_t *hs = NULL;
    Py_ssize_t m = vo.len / 4, nh = 0, cap = 256;
    if (va.len != vo.len || vb.len != vo.len) {
        PyErr_SetString(PyExc_ValueError, "a, b and out must have the same length");
        goto done;
    }
    uint32_t *out = vo.buf;
    for (Py_ssize_t i = 0; i < m; i++)
        out[i] = 0xFFFFFFFFu;
    if ((iter = PyObject_GetIter(args[0])) == NULL || (hs = PyMem_Malloc(cap * 4)) == NULL)
        goto done;
    while ((item = PyIter_Next(iter)) != NULL) {
        uint32_t h;
        int rc = shingle_hash(item, &h);
        Py_DECREF(item);
        if (rc < 0)
            goto done;
        if (nh == cap) {
            uint32_t *more = PyMem_Realloc(hs, (cap *= 2) * 4);
            if (more == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            hs = more;
        }
        hs[nh++] = fmix32(h);
    }
    if (!PyErr_Occurred()) {
        minhash_values(va.buf, vb.buf, out, m, hs, nh);
        result = Py_NewRef(Py_None);
    }
done:
    PyMem_Free(hs);
    Py_XDECREF(iter);
    PyBuffer_Release(&va);
    PyBuffer_Release(&vb);
    PyBuffer_Release(&vo);
    return result;
}

/* band_keys(values, mix, salt) -> for each band b < len(salt), with R = len(mix) rows a band:
 * (sum over r of values[b*R + r] * mix[r]) + salt[b], mod 2**64, as a Python int. */
static PyObject *k_band_keys(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "band_keys(values, mix, salt)");
        return NULL;
    }
    Py_buffer vv;
    if (uint32_buffer(args[0], &vv, 0) < 0)
        return NULL;
    PyObject *mix = NULL, *salt = NULL, *out = NULL;
    uint64_t m[8];
    if ((mix = PySequence_Fast(args[1], "mix must be a sequence")) == NULL ||
        (salt = PySequence_Fast(args[2], "salt must be a sequence")) == NULL)
        goto done;
    Py_ssize_t rows = PySequence_Fast_GET_SIZE(mix), bands = PySequence_Fast_GET_SIZE(salt);
    if (rows < 1 || rows > 8 || bands * rows > vv.len / 4) {
        PyErr_SetString(PyExc_ValueError, "1 to 8 rows a band, and values for every band");
        goto done;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        m[r] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(mix, r));
        if (m[r] == (uint64_t)-1 && PyErr_Occurred())
            goto done;
    }
    const uint32_t *v = vv.buf;
    if ((out = PyList_New(bands)) == NULL)
        goto done;
    for (Py_ssize_t b = 0; b < bands; b++) {
        uint64_t key = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(salt, b));
        if (key == (uint64_t)-1 && PyErr_Occurred()) {
            Py_CLEAR(out);
            goto done;
        }
        for (Py_ssize_t r = 0; r < rows; r++)
            key += (uint64_t)v[b * rows + r] * m[r];
        PyObject *k = PyLong_FromUnsignedLongLong(key);
        if (k == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, b, k);
    }
done:
    Py_XDECREF(mix);
    Py_XDECREF(salt);
    PyBuffer_Release(&vv);
    return out;
}

static PyMethodDef methods[] = {
    {"band_keys", (PyCFunction)(void (*)(void))k_band_keys, METH_FASTCALL, NULL},
    {"words", k_words, METH_O, NULL},
    {"name_candidates", k_name_candidates, METH_O, NULL},
    {"has_token", (PyCFunction)(void (*)(void))k_has_token, METH_FASTCALL, NULL},
    {"word_counts", k_word_counts, METH_O, NULL},
    {"count_pairs", (PyCFunction)(void (*)(void))k_count_pairs, METH_FASTCALL, NULL},
    {"unit", k_unit, METH_O, NULL},
    {"shingles", k_shingles, METH_O, NULL},
    {"minhash_into", (PyCFunction)(void (*)(void))k_minhash_into, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "newsthreads.stories._textkernels",
    "C versions of stories.textkernels (same results).", -1, methods,
};

PyMODINIT_FUNC PyInit__textkernels(void) {
    crc_init();
    return PyModule_Create(&module);
}
