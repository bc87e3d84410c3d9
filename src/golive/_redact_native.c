/* golive._redact_native: the redactor's per-match work in C.
 *
 * The same rules as golive/redact.py, run the same way: one Hyperscan database of the rules' anchors scans
 * the input with a C callback that records each hit; then, rule by rule in rule order, each rule's exact
 * expression (the same source text as the Python rule, compiled by PCRE2 with its JIT, a backtracking
 * engine with the semantics of Python's `re` for these expressions) is tried where the Python code tries
 * it (at an anchor's start, at the start of an e-mail's local part, from the start of a card's run of digit
 * groups, or searched from before a line's first anchor), and the checks that follow a match (issuer and
 * Luhn for cards, mod 97 for IBANs, digit counts for phones, the context-secret and token checks) are the
 * Python refine functions written again in C. redact.py keeps the Python path as the reference: a
 * differential test holds the two to the same findings.
 *
 * Rules that need Python (custom RE2 patterns, IP addresses) are handed back: their anchor hits go to a
 * Python callable, which appends their findings in their place in rule order.
 *
 * apply() replaces findings by placeholders as Redactor._apply does (the same stable order by start and
 * priority, the same merging of overlaps); placeholders come from the redactor's dict, or from its
 * _placeholder method for a value not seen before.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#define PY_SSIZE_T_CLEAN
#define PCRE2_CODE_UNIT_WIDTH 8
#include <Python.h>
#include <hs/hs.h>
#include <pcre2.h>
#include <stdint.h>
#include <string.h>

enum { MODE_LITERAL = 0, MODE_MULTILINE, MODE_START_OF, MODE_AT_ANCHOR, MODE_RUN_BACK, MODE_LINE, MODE_DELEGATE };
enum {
    REF_NONE = 0,
    REF_SPAN_V,
    REF_CARDS,
    REF_IBAN,
    REF_EMAIL,
    REF_PHONE,
    REF_E164,
    REF_CONTEXT_SECRET,
    REF_OPENAI,
    REF_SESSION,
    REF_BEARER,
    REF_AUTH,
    REF_IPV4,
    REF_IPV6
};

#define LOOKBACK 72 /* redact._LOOKBACK */

typedef struct {
    int mode;
    int refine;
    pcre2_code *code;
    int g1, g2, g3; /* groups: v (and w, x for auth; the phone group) */
    int lo, hi, skip;
    Py_ssize_t width; /* literal rules: the literal's length */
    Py_ssize_t iprio;
    PyObject *prio;
    PyObject *kind;
    PyObject *canonical;
} Rule;

typedef struct {
    PyObject_HEAD hs_database_t *db;
    hs_scratch_t *scratch;
    int scratch_busy;
    Py_ssize_t nrules;
    Rule *rules;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
} Engine;

typedef struct {
    unsigned int id;
    Py_ssize_t from, to;
} Hit;

typedef struct {
    Hit *hits;
    size_t n, cap;
    int oom;
} Hits;

typedef struct {
    Py_ssize_t s, e;
} Span;

typedef struct {
    Span *v;
    size_t n, cap;
} Spans;

static int spans_push(Spans *a, Py_ssize_t s, Py_ssize_t e) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        Span *v = PyMem_Realloc(a->v, cap * sizeof(Span));
        if (!v) {
            PyErr_NoMemory();
            return -1;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].s = s;
    a->v[a->n].e = e;
    a->n++;
    return 0;
}

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx) {
    (void)flags;
    Hits *h = ctx;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        Hit *v = realloc(h->hits, cap * sizeof(Hit));
        if (!v) {
            h->oom = 1;
            return 1; /* stop the scan */
        }
        h->hits = v;
        h->cap = cap;
    }
    h->hits[h->n].id = id;
    h->hits[h->n].from = (Py_ssize_t)from;
    h->hits[h->n].to = (Py_ssize_t)to;
    h->n++;
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Findings as C records, in the order the Python code appends its tuples (rule by rule); kind and canonical
 * are borrowed from a rule of an engine the caller holds, or from a Python tuple (tuple: then kept in
 * Recs.keep). */

typedef struct {
    Py_ssize_t s, e, prio;
    size_t seq;
    PyObject *kind, *canonical;
    PyObject *tuple; /* the Python tuple this record came from, or NULL */
} Rec;

typedef struct {
    Rec *v;
    size_t n, cap;
    PyObject *keep; /* a list holding the Python tuples records borrow from */
} Recs;

static void recs_free(Recs *r) {
    PyMem_Free(r->v);
    Py_XDECREF(r->keep);
    r->v = NULL;
    r->n = r->cap = 0;
    r->keep = NULL;
}

static Rec *recs_push(Recs *r) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        Rec *v = PyMem_Realloc(r->v, cap * sizeof(Rec));
        if (!v) {
            PyErr_NoMemory();
            return NULL;
        }
        r->v = v;
        r->cap = cap;
    }
    Rec *x = &r->v[r->n];
    x->seq = r->n;
    r->n++;
    return x;
}

/* Append the 5-tuples of a Python list (start, end, priority, kind, canonical) as records. */
static int recs_from_list(Recs *r, PyObject *list) {
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n == 0) return 0;
    if (!r->keep && !(r->keep = PyList_New(0))) return -1;
    if (PyList_Append(r->keep, list) < 0) return -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *t = PyList_GET_ITEM(list, k);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 5) {
            PyErr_SetString(PyExc_TypeError, "a finding is a 5-tuple");
            return -1;
        }
        Rec *x = recs_push(r);
        if (!x) return -1;
        x->s = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0));
        x->e = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 1));
        x->prio = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 2));
        x->kind = PyTuple_GET_ITEM(t, 3);
        x->canonical = PyTuple_GET_ITEM(t, 4);
        x->tuple = t;
        if (PyErr_Occurred()) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* The scan state of one find() call. */

typedef struct {
    Engine *eng;
    const uint8_t *d;
    Py_ssize_t size;
    pcre2_match_data *md;
    Recs *recs; /* where findings go */
    Rule *rule;
    Spans cards; /* scratch for the card refine */
} State;

static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static inline int is_alpha(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static inline int is_alnum(uint8_t c) { return is_digit(c) || is_alpha(c); }

static Py_ssize_t find_nl(const uint8_t *d, Py_ssize_t from, Py_ssize_t size) {
    /* data.find(b"\n", from); -1 when absent */
    if (from < 0) from = 0;
    if (from >= size) return -1;
    const uint8_t *p = memchr(d + from, '\n', (size_t)(size - from));
    return p ? (Py_ssize_t)(p - d) : -1;
}

static Py_ssize_t rfind_nl(const uint8_t *d, Py_ssize_t end) {
    /* data.rfind(b"\n", 0, end); -1 when absent */
    if (end <= 0) return -1;
    const uint8_t *p = memrchr(d, '\n', (size_t)end);
    return p ? (Py_ssize_t)(p - d) : -1;
}

static int emit(State *st, Py_ssize_t s, Py_ssize_t e) {
    Rule *r = st->rule;
    Rec *x = recs_push(st->recs);
    if (!x) return -1;
    x->s = s;
    x->e = e;
    x->prio = r->iprio;
    x->kind = r->kind;
    x->canonical = r->canonical;
    x->tuple = NULL;
    return 0;
}

/* A record as the Python code's tuple. */
static PyObject *rec_tuple(Rec *x) {
    if (x->tuple) return Py_NewRef(x->tuple);
    PyObject *t = PyTuple_New(5);
    if (!t) return NULL;
    PyObject *ps = PyLong_FromSsize_t(x->s), *pe = PyLong_FromSsize_t(x->e), *pp = PyLong_FromSsize_t(x->prio);
    if (!ps || !pe || !pp) {
        Py_XDECREF(ps);
        Py_XDECREF(pe);
        Py_XDECREF(pp);
        Py_DECREF(t);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, ps);
    PyTuple_SET_ITEM(t, 1, pe);
    PyTuple_SET_ITEM(t, 2, pp);
    PyTuple_SET_ITEM(t, 3, Py_NewRef(x->kind));
    PyTuple_SET_ITEM(t, 4, Py_NewRef(x->canonical));
    /* Ints, a str, bytes or None: no reference cycle passes through it; the collector need not track it. */
    PyObject_GC_UnTrack(t);
    return t;
}

/* 1: a match (ovector in st->md), 0: none, -1: error set. */
static int rx(State *st, Py_ssize_t start, Py_ssize_t endpos) {
    int rc = pcre2_match(st->rule->code, st->d, (PCRE2_SIZE)endpos, (PCRE2_SIZE)start, 0, st->md, st->eng->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    PyErr_Format(PyExc_RuntimeError, "redaction expression failed to run (PCRE2 error %d)", rc);
    return -1;
}

static inline void group_span(State *st, int g, Py_ssize_t *s, Py_ssize_t *e) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
    if (g < 0 || (uint32_t)g >= pcre2_get_ovector_count(st->md) || ov[2 * g] == PCRE2_UNSET) {
        *s = -1;
        *e = -1;
        return;
    }
    *s = (Py_ssize_t)ov[2 * g];
    *e = (Py_ssize_t)ov[2 * g + 1];
}

/* -- checks ---------------------------------------------------------------------------------------------- */

static int luhn_ok(const uint8_t *d, Py_ssize_t n) {
    int sum = 0, dbl = 0;
    for (Py_ssize_t k = n - 1; k >= 0; k--) {
        int v = d[k] - '0';
        if (dbl) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        sum += v;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

/* redact._ISSUER.fullmatch over a digit string */
static int issuer_ok(const uint8_t *d, Py_ssize_t n) {
    if (n < 13) return 0;
    int c0 = d[0] - '0', c1 = d[1] - '0', c2 = d[2] - '0';
    int two = c0 * 10 + c1, three = two * 10 + c2, four = three * 10 + (d[3] - '0');
    if (c0 == 4 && (n == 13 || n == 16 || n == 19)) return 1;
    if (c0 == 5 && c1 >= 1 && c1 <= 5 && n == 16) return 1;
    if (four >= 2221 && four <= 2720 && n == 16) return 1;
    if (c0 == 3 && (c1 == 4 || c1 == 7) && n == 15) return 1;
    if (c0 == 3 && (c1 == 0 || c1 == 6 || c1 == 8 || c1 == 9) && n >= 14 && n <= 19) return 1;
    if (four >= 3528 && four <= 3589 && n >= 16 && n <= 19) return 1;
    if ((four == 6011 || two == 65 || (three >= 644 && three <= 649) || two == 62) && n >= 16 && n <= 19) return 1;
    return 0;
}

static int card_ok(const uint8_t *d, Py_ssize_t n) { return issuer_ok(d, n) && luhn_ok(d, n); }

#define MAX_GROUPS 4096

/* redact._find_cards: the cards in the run of digit groups data[ms:me] (digits and single ' '/'-'). */
static int find_cards(State *st, Py_ssize_t ms, Py_ssize_t me) {
    const uint8_t *t = st->d + ms;
    Py_ssize_t len = me - ms;
    st->cards.n = 0;
    Py_ssize_t nsep = 0;
    for (Py_ssize_t k = 0; k < len; k++)
        if (!is_digit(t[k])) nsep++;
    if (nsep == 0) {
        if (card_ok(t, len)) return spans_push(&st->cards, ms, me);
        return 0;
    }
    Py_ssize_t n = nsep + 1;
    Py_ssize_t *offs = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(4 * n + 2));
    if (!offs) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t *lens = offs + n, *cum = lens + n, *fours = cum + n + 1;
    uint8_t *seps = PyMem_Malloc((size_t)n);
    uint8_t *digits = PyMem_Malloc((size_t)len + 1);
    if (!seps || !digits) {
        PyMem_Free(offs);
        PyMem_Free(seps);
        PyMem_Free(digits);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t g = 0, nd = 0;
    offs[0] = 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        if (is_digit(t[k])) {
            digits[nd++] = t[k];
        } else {
            lens[g] = k - offs[g];
            seps[g] = t[k]; /* the separator before group g + 1 */
            g++;
            offs[g] = k + 1;
        }
    }
    lens[g] = len - offs[g];
    cum[0] = 0;
    for (Py_ssize_t k = 0; k < n; k++) cum[k + 1] = cum[k] + lens[k];
    int rc = 0;
    /* _ONE_GROUPED_CARD: fours with a last group of 1-4 (or 4,4,4,4,1-3), or 4-6-4/5; one separator. */
    int same = 1;
    for (Py_ssize_t k = 1; k < nsep; k++)
        if (seps[k] != seps[0]) same = 0;
    int one = 0;
    if (same) {
        if (n == 4 && lens[0] == 4 && lens[1] == 4 && lens[2] == 4 && lens[3] >= 1 && lens[3] <= 4) one = 1;
        if (n == 5 && lens[0] == 4 && lens[1] == 4 && lens[2] == 4 && lens[3] == 4 && lens[4] >= 1 && lens[4] <= 3)
            one = 1;
        if (n == 3 && lens[0] == 4 && lens[1] == 6 && (lens[2] == 4 || lens[2] == 5)) one = 1;
    }
    if (one && card_ok(digits, nd)) {
        rc = spans_push(&st->cards, ms, me);
        goto done;
    }
    fours[n] = n;
    for (Py_ssize_t k = n - 1; k >= 0; k--) fours[k] = lens[k] == 4 ? fours[k + 1] : k;
    Py_ssize_t i = 0, boundary = 0;
    while (i < n) {
        Py_ssize_t count = 0;
        uint8_t first = t[offs[i]];
        if (first >= '2' && first <= '6') {
            Py_ssize_t total = 0, j = i, ends[20], nends = 0;
            while (j < n && total + lens[j] <= 19) {
                total += lens[j];
                j++;
                if (total >= 13) ends[nends++] = j;
            }
            for (Py_ssize_t q = nends - 1; q >= 0; q--) {
                j = ends[q];
                int ok;
                if (j - i == 1) {
                    ok = card_ok(t + offs[i], lens[i]);
                } else {
                    Py_ssize_t last = lens[j - 1];
                    ok = (fours[i] >= j - 1 && last <= 4) ||
                         (j - i == 3 && lens[i] == 4 && lens[i + 1] == 6 && (last == 4 || last == 5));
                    if (ok)
                        for (Py_ssize_t k = i; k < j - 1; k++)
                            if (seps[k] != seps[i]) ok = 0;
                    if (ok && i > boundary && fours[boundary] >= i) ok = 0;
                    if (ok) ok = card_ok(digits + cum[i], cum[j] - cum[i]);
                }
                if (ok) {
                    count = j - i;
                    break;
                }
            }
        }
        if (count) {
            rc = spans_push(&st->cards, ms + offs[i], ms + offs[i + count - 1] + lens[i + count - 1]);
            if (rc < 0) goto done;
            i += count;
            boundary = i;
        } else {
            i++;
        }
    }
done:
    PyMem_Free(offs);
    PyMem_Free(seps);
    PyMem_Free(digits);
    return rc;
}

static int iban_length(uint8_t a, uint8_t b) {
    static const char *table =
        "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29BY28CH21CR22CY28CZ24DE22DK18DO28EE20EG29ES24FI18FO18FR27GB22"
        "GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20LV21MC27MD24ME22MK19"
        "MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29RO24RS22SA24SC31SE24SI19SK24SM27ST25SV28TL23TN24TR26UA29VA22"
        "VG24XK20";
    for (const char *p = table; *p; p += 4)
        if ((uint8_t)p[0] == a && (uint8_t)p[1] == b) return (p[2] - '0') * 10 + (p[3] - '0');
    return 0;
}

static int mod97_char(int acc, uint8_t c) {
    if (is_digit(c)) return (acc * 10 + (c - '0')) % 97;
    int v;
    if (c >= 'A' && c <= 'Z')
        v = c - 'A' + 10;
    else
        v = c - 'a' + 10;
    return (acc * 100 + v) % 97;
}

/* redact._refine_iban: 1 with *e set, 0 for None. */
static int refine_iban(State *st, Py_ssize_t ms, Py_ssize_t me, Py_ssize_t *out_e) {
    const uint8_t *t = st->d + ms;
    Py_ssize_t len = me - ms;
    if (len < 2) return 0;
    int want = iban_length(t[0], t[1]);
    if (!want) return 0;
    Py_ssize_t end = want;
    /* text.find(b" ", 0, end), repeated: one more character for each space before end */
    Py_ssize_t space = -1;
    for (Py_ssize_t k = 0; k < (end < len ? end : len); k++)
        if (t[k] == ' ') {
            space = k;
            break;
        }
    while (space >= 0) {
        end++;
        Py_ssize_t nxt = -1;
        for (Py_ssize_t k = space + 1; k < (end < len ? end : len); k++)
            if (t[k] == ' ') {
                nxt = k;
                break;
            }
        space = nxt;
    }
    if (end > len) return 0;
    Py_ssize_t after = ms + end;
    if (after < st->size && is_alnum(st->d[after])) return 0;
    uint8_t compact[64];
    Py_ssize_t nc = 0;
    for (Py_ssize_t k = 0; k < end; k++)
        if (t[k] != ' ') {
            if (nc >= 64) return 0;
            compact[nc++] = t[k];
        }
    int acc = 0;
    for (Py_ssize_t k = 4; k < nc; k++) acc = mod97_char(acc, compact[k]);
    for (Py_ssize_t k = 0; k < 4 && k < nc; k++) acc = mod97_char(acc, compact[k]);
    if (acc % 97 != 1) return 0;
    *out_e = after;
    return 1;
}

static int refine_email(State *st, Py_ssize_t ms, Py_ssize_t me) {
    /* None when the top-level domain is a file extension (a@2x.png) */
    static const char *tlds[] = {"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ts", "map", "ico", NULL};
    Py_ssize_t dot = -1;
    for (Py_ssize_t k = me - 1; k >= ms; k--)
        if (st->d[k] == '.') {
            dot = k;
            break;
        }
    Py_ssize_t from = dot < 0 ? ms : dot + 1, n = me - from;
    for (const char **p = tlds; *p; p++) {
        if ((Py_ssize_t)strlen(*p) != n) continue;
        Py_ssize_t k = 0;
        for (; k < n; k++) {
            uint8_t c = st->d[from + k];
            if (c >= 'A' && c <= 'Z') c += 32;
            if (c != (uint8_t)(*p)[k]) break;
        }
        if (k == n) return 0;
    }
    return 1;
}

static Py_ssize_t digit_count(const uint8_t *t, Py_ssize_t n) {
    Py_ssize_t c = 0;
    for (Py_ssize_t k = 0; k < n; k++) c += is_digit(t[k]);
    return c;
}

static int refine_e164(State *st, Py_ssize_t ms, Py_ssize_t me, Py_ssize_t *out_e) {
    const uint8_t *t = st->d + ms;
    Py_ssize_t len = me - ms;
    Py_ssize_t skip = (len >= 2 && t[0] == '0' && t[1] == '0') ? 2 : 0;
    Py_ssize_t end = len;
    while (digit_count(t, end) - skip > 15) {
        Py_ssize_t cut = -1;
        for (Py_ssize_t k = end - 1; k >= 0; k--)
            if (t[k] == ' ' || t[k] == '-' || t[k] == '.') {
                cut = k;
                break;
            }
        if (cut <= 0) return 0;
        end = cut;
    }
    if (digit_count(t, end) - skip < 8) return 0;
    *out_e = ms + end;
    return 1;
}

static int ieq(const uint8_t *a, Py_ssize_t n, const char *lower) {
    if ((Py_ssize_t)strlen(lower) != n) return 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        uint8_t c = a[k];
        if (c >= 'A' && c <= 'Z') c += 32;
        if (c != (uint8_t)lower[k]) return 0;
    }
    return 1;
}

static int refine_context_secret(State *st, Py_ssize_t vs, Py_ssize_t ve) {
    static const char *not_secret[] = {
        "true", "false", "null", "none", "nil", "undefined", "yes", "n/a", "redacted", "hidden",
        "masked", "required", "optional", "string", "changeme", "xxxx", "empty", "unset", "present",
        "missing", "invalid", "expired", "valid", "set", NULL};
    const uint8_t *v = st->d + vs;
    Py_ssize_t n = ve - vs;
    for (const char **p = not_secret; *p; p++)
        if (ieq(v, n, *p)) return 0;
    int only_filler = 1;
    for (Py_ssize_t k = 0; k < n; k++) {
        uint8_t c = v[k];
        if (!(c == '*' || c == 'x' || c == 'X' || c == '#' || c == '.' || c == '-')) {
            only_filler = 0;
            break;
        }
    }
    if (only_filler) return 0;
    if (n >= 1 && (v[0] == '/' || v[0] == '$')) return 0;
    if (n >= 2 && v[0] == '.' && v[1] == '/') return 0;
    if (n >= 2 && v[0] == '~' && v[1] == '/') return 0;
    return 1;
}

static int has_digit(const uint8_t *t, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++)
        if (is_digit(t[k])) return 1;
    return 0;
}

static int is_uuid(const uint8_t *t, Py_ssize_t n) {
    if (n != 36) return 0;
    for (Py_ssize_t k = 0; k < 36; k++) {
        if (k == 8 || k == 13 || k == 18 || k == 23) {
            if (t[k] != '-') return 0;
        } else {
            uint8_t c = t[k];
            if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
        }
    }
    return 1;
}

/* ipaddress.IPv4Address(text) accepts it (Python 3.9.5 on): four decimal octets of 1-3 ASCII digits, each at
 * most 255, none with a leading zero. */
static int ipv4_ok(const uint8_t *t, Py_ssize_t n) {
    int parts = 0;
    Py_ssize_t k = 0;
    for (;;) {
        Py_ssize_t from = k;
        int v = 0;
        while (k < n && t[k] != '.') {
            if (!is_digit(t[k])) return 0;
            v = v * 10 + (t[k] - '0');
            k++;
            if (k - from > 3) return 0;
        }
        Py_ssize_t len = k - from;
        if (len == 0 || v > 255 || (len > 1 && t[from] == '0')) return 0;
        parts++;
        if (k == n) break;
        k++; /* the dot */
    }
    return parts == 4;
}

/* ipaddress.IPv6Address(text) accepts it (text without a %scope): the checks of
 * IPv6Address._ip_int_from_string in their order. */
static int ipv6_ok(const uint8_t *t, Py_ssize_t n) {
    if (n == 0) return 0;
    Py_ssize_t start[64], len[64];
    int np = 0;
    Py_ssize_t from = 0;
    for (Py_ssize_t k = 0; k <= n; k++)
        if (k == n || t[k] == ':') {
            if (np == 64) return 0;
            start[np] = from;
            len[np] = k - from;
            np++;
            from = k + 1;
        }
    if (np < 3) return 0;
    int v4 = 0; /* the last part is an IPv4 address: two hextets */
    for (Py_ssize_t k = 0; k < len[np - 1]; k++)
        if (t[start[np - 1] + k] == '.') v4 = 1;
    if (v4) {
        if (!ipv4_ok(t + start[np - 1], len[np - 1])) return 0;
        np++; /* parts.pop() and two appended, non-empty hextets of at most 4 digits */
    }
    if (np > 9) return 0;
    int skip = -1;
    for (int i = 1; i < np - 1; i++) {
        int empty = (v4 && i >= np - 2) ? 0 : len[i] == 0;
        if (empty) {
            if (skip >= 0) return 0;
            skip = i;
        }
    }
    int first_empty = len[0] == 0;
    int last_empty = v4 ? 0 : len[np - 1] == 0;
    int hi, lo;
    if (skip >= 0) {
        hi = skip;
        lo = np - skip - 1;
        if (first_empty) {
            hi -= 1;
            if (hi) return 0;
        }
        if (last_empty) {
            lo -= 1;
            if (lo) return 0;
        }
        if (8 - (hi + lo) < 1) return 0;
    } else {
        if (np != 8 || first_empty || last_empty) return 0;
        hi = np;
        lo = 0;
    }
    /* every hextet parsed: 1-4 hex digits (an appended IPv4 half always is) */
    for (int pass = 0; pass < 2; pass++) {
        int a = pass == 0 ? 0 : np - lo, b = pass == 0 ? hi : np;
        for (int i = a; i < b; i++) {
            if (v4 && i >= np - 2) continue;
            if (len[i] < 1 || len[i] > 4) return 0;
            for (Py_ssize_t k = 0; k < len[i]; k++) {
                uint8_t c = t[start[i] + k];
                if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
            }
        }
    }
    return 1;
}

/* The rule's refine function on the current match: 2 several spans (in st->cards), 1 one span, 0 None,
 * -1 error. */
static int refine(State *st, Py_ssize_t *s, Py_ssize_t *e) {
    Rule *r = st->rule;
    Py_ssize_t ms, me, vs, ve;
    group_span(st, 0, &ms, &me);
    switch (r->refine) {
        case REF_NONE:
            *s = ms;
            *e = me;
            return 1;
        case REF_SPAN_V:
            group_span(st, r->g1, s, e);
            return 1;
        case REF_CARDS:
            return find_cards(st, ms, me) < 0 ? -1 : 2;
        case REF_IBAN:
            *s = ms;
            return refine_iban(st, ms, me, e);
        case REF_EMAIL:
            *s = ms;
            *e = me;
            return refine_email(st, ms, me);
        case REF_PHONE: {
            group_span(st, r->g1, &vs, &ve);
            if (vs < 0) return 0; /* an unset group: Python's refine would fail; never for these rules */
            Py_ssize_t count = digit_count(st->d + vs, ve - vs);
            if (r->skip && ve - vs >= 2 && st->d[vs] == '0' && st->d[vs + 1] == '0') count -= 2;
            *s = vs;
            *e = ve;
            return r->lo <= count && count <= r->hi;
        }
        case REF_E164:
            *s = ms;
            return refine_e164(st, ms, me, e);
        case REF_CONTEXT_SECRET:
            group_span(st, r->g1, &vs, &ve);
            if (vs < 0) return 0;
            *s = vs;
            *e = ve;
            return refine_context_secret(st, vs, ve);
        case REF_OPENAI: {
            const uint8_t *b = st->d + ms + 3;
            Py_ssize_t n = me - ms - 3;
            int dig = 0, alp = 0;
            for (Py_ssize_t k = 0; k < n; k++) {
                dig |= is_digit(b[k]);
                alp |= is_alpha(b[k]);
            }
            *s = ms;
            *e = me;
            return dig && alp;
        }
        case REF_SESSION:
        case REF_BEARER:
            group_span(st, r->g1, &vs, &ve);
            if (vs < 0) return 0;
            if (r->refine == REF_SESSION && is_uuid(st->d + vs, ve - vs)) return 0;
            *s = vs;
            *e = ve;
            return has_digit(st->d + vs, ve - vs);
        case REF_IPV4:
            *s = ms;
            *e = me;
            return ipv4_ok(st->d + ms, me - ms);
        case REF_IPV6: {
            Py_ssize_t n = me - ms, colons = 0, other = 0;
            const uint8_t *t = st->d + ms;
            for (Py_ssize_t k = 0; k < n; k++)
                if (t[k] == '%') {
                    n = k; /* the scope id is not checked */
                    break;
                }
            for (Py_ssize_t k = 0; k < n; k++) {
                colons += t[k] == ':';
                other += t[k] != ':';
            }
            *s = ms;
            *e = me;
            return colons >= 2 && other > 0 && ipv6_ok(t, n);
        }
        case REF_AUTH: {
            int groups[3] = {r->g1, r->g2, r->g3};
            for (int k = 0; k < 3; k++) {
                group_span(st, groups[k], &vs, &ve);
                if (vs >= 0) {
                    *s = vs;
                    *e = ve;
                    return 1;
                }
            }
            return 0;
        }
    }
    PyErr_SetString(PyExc_RuntimeError, "unknown refine");
    return -1;
}

static int emit_cards(State *st) {
    for (size_t k = 0; k < st->cards.n; k++)
        if (emit(st, st->cards.v[k].s, st->cards.v[k].e) < 0) return -1;
    return 0;
}

/* redact._take: the findings of one match of a searched rule; *next: where the search goes on. */
static int take(State *st, Py_ssize_t *next) {
    Py_ssize_t ms, me, s, e;
    group_span(st, 0, &ms, &me);
    int k = refine(st, &s, &e);
    if (k < 0) return -1;
    if (k == 2) {
        if (emit_cards(st) < 0) return -1;
        *next = me > ms + 1 ? me : ms + 1;
        return 0;
    }
    if (k == 0) {
        *next = ms + 1;
        return 0;
    }
    if (e > s && emit(st, s, e) < 0) return -1;
    Py_ssize_t n = st->rule->refine == REF_IBAN ? e : me;
    *next = n > ms + 1 ? n : ms + 1;
    return 0;
}

/* redact._search */
static int search(State *st, Py_ssize_t pos, Py_ssize_t endpos, Py_ssize_t last_start) {
    Py_ssize_t stop = last_start < 0 ? endpos : (endpos < last_start ? endpos : last_start);
    if (pos >= stop) return 0;
    for (;;) {
        int found = rx(st, pos, endpos);
        if (found <= 0) return found;
        Py_ssize_t nxt;
        if (take(st, &nxt) < 0) return -1;
        if (nxt >= stop) return 0;
        pos = nxt;
    }
}

static int cmp_ssize(const void *a, const void *b) {
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* Sorted unique values, in place; returns the count. */
static size_t sort_unique(Py_ssize_t *v, size_t n) {
    if (n == 0) return 0;
    int sorted = 1;
    for (size_t k = 1; k < n; k++)
        if (v[k] < v[k - 1]) {
            sorted = 0;
            break;
        }
    if (!sorted) qsort(v, n, sizeof(Py_ssize_t), cmp_ssize);
    size_t m = 1;
    for (size_t k = 1; k < n; k++)
        if (v[k] != v[m - 1]) v[m++] = v[k];
    return m;
}

/* redact._match_at */
static int match_at(State *st, Py_ssize_t *starts, size_t n) {
    Py_ssize_t cursor = -1, line_end = -1;
    for (size_t k = 0; k < n; k++) {
        Py_ssize_t start = starts[k];
        if (start < cursor) continue;
        if (start > line_end) {
            line_end = find_nl(st->d, start, st->size);
            if (line_end < 0) line_end = st->size;
        }
        int found = rx(st, start, line_end);
        if (found < 0) return -1;
        if (!found) continue;
        Py_ssize_t ms, me, s, e;
        group_span(st, 0, &ms, &me);
        int r = refine(st, &s, &e);
        if (r < 0) return -1;
        if (r == 2) {
            if (emit_cards(st) < 0) return -1;
            cursor = me;
        } else if (r == 1) {
            if (e > s && emit(st, s, e) < 0) return -1;
            cursor = st->rule->refine == REF_IBAN ? e : me;
        }
    }
    return 0;
}

static inline int is_local(uint8_t c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }

/* redact._email_start */
static Py_ssize_t email_start(const uint8_t *d, Py_ssize_t at) {
    Py_ssize_t lo = at - 64 > 0 ? at - 64 : 0, k = at, count = 0;
    while (k >= lo && count < 65 && is_local(d[k])) {
        count++;
        k--;
    }
    return at + 1 - count;
}

/* redact._search_runs (run_back: (?:[ -]\d+)* read backwards) */
static int search_runs(State *st, Py_ssize_t *starts, size_t n) {
    const uint8_t *d = st->d;
    Py_ssize_t line_start = -1, endpos = 0, pos = 0;
    for (size_t k = 0; k < n; k++) {
        Py_ssize_t start = starts[k];
        Py_ssize_t first = rfind_nl(d, start) + 1;
        if (first != line_start) {
            line_start = first;
            endpos = find_nl(d, start, st->size);
            if (endpos < 0) endpos = st->size;
            pos = start - LOOKBACK > line_start ? start - LOOKBACK : line_start;
        } else if (start < pos) {
            continue;
        }
        Py_ssize_t from = start;
        if (start > pos && (d[start - 1] == ' ' || d[start - 1] == '-')) {
            Py_ssize_t q = start - 1; /* the next byte to read backwards */
            while (q >= pos && (d[q] == ' ' || d[q] == '-')) {
                Py_ssize_t r = q - 1;
                while (r >= pos && is_digit(d[r])) r--;
                if (r == q - 1) break; /* no digit after the separator */
                q = r;
            }
            from = q + 1;
        }
        int found = rx(st, from, endpos);
        if (found < 0) return -1;
        if (!found) {
            pos = endpos;
            continue;
        }
        if (take(st, &pos) < 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */

static void engine_clear_rules(Engine *self) {
    if (self->rules) {
        for (Py_ssize_t k = 0; k < self->nrules; k++) {
            Rule *r = &self->rules[k];
            if (r->code) pcre2_code_free(r->code);
            Py_XDECREF(r->prio);
            Py_XDECREF(r->kind);
            Py_XDECREF(r->canonical);
        }
        PyMem_Free(self->rules);
        self->rules = NULL;
    }
}

static void engine_dealloc(Engine *self) {
    engine_clear_rules(self);
    if (self->scratch) hs_free_scratch(self->scratch);
    if (self->db) hs_free_database(self->db);
    if (self->mctx) pcre2_match_context_free(self->mctx);
    if (self->jstack) pcre2_jit_stack_free(self->jstack);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Engine(rules, expressions, flags, serialized=None)
 * rules: one tuple per Hyperscan id: (mode, pattern or None, pcre2 options, refine, (g1, g2, g3, lo, hi, skip),
 *        priority, kind, canonical, literal width). */
static PyObject *engine_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"rules", "expressions", "flags", "serialized", NULL};
    PyObject *rules, *exprs, *flags, *serialized = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!|O", kwlist, &PyList_Type, &rules, &PyList_Type, &exprs,
                                     &PyList_Type, &flags, &serialized))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(rules);
    if (n == 0 || PyList_GET_SIZE(exprs) != n || PyList_GET_SIZE(flags) != n) {
        PyErr_SetString(PyExc_ValueError, "rules, expressions and flags must be non-empty and of one length");
        return NULL;
    }
    Engine *self = (Engine *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->rules = PyMem_Calloc((size_t)n, sizeof(Rule));
    if (!self->rules) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->nrules = n;
    for (Py_ssize_t k = 0; k < n; k++) {
        Rule *r = &self->rules[k];
        PyObject *pattern, *groups, *prio, *kind, *canonical;
        unsigned int options;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(rules, k), "iOIiO!OOOn", &r->mode, &pattern, &options, &r->refine,
                              &PyTuple_Type, &groups, &prio, &kind, &canonical, &r->width))
            goto fail;
        r->prio = Py_NewRef(prio); /* owned only from here: the dealloc releases what is set */
        r->kind = Py_NewRef(kind);
        r->canonical = Py_NewRef(canonical);
        r->iprio = PyLong_AsSsize_t(r->prio);
        if (r->iprio == -1 && PyErr_Occurred()) goto fail;
        if (!PyUnicode_Check(r->kind)) {
            PyErr_SetString(PyExc_TypeError, "a rule's kind is a str");
            goto fail;
        }
        if (!PyArg_ParseTuple(groups, "iiiiii", &r->g1, &r->g2, &r->g3, &r->lo, &r->hi, &r->skip)) goto fail;
        if (pattern != Py_None) {
            char *src;
            Py_ssize_t srclen;
            if (PyBytes_AsStringAndSize(pattern, &src, &srclen) < 0) goto fail;
            int err;
            PCRE2_SIZE erroff;
            r->code = pcre2_compile((PCRE2_SPTR)src, (PCRE2_SIZE)srclen, options, &err, &erroff, NULL);
            if (!r->code) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(err, msg, sizeof msg);
                PyErr_Format(PyExc_ValueError, "rule %zd: PCRE2 cannot compile %R at %zu: %s", k, pattern,
                             (size_t)erroff, (char *)msg);
                goto fail;
            }
            pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE); /* the interpreter runs it if the JIT cannot */
        } else if (r->mode != MODE_LITERAL && r->mode != MODE_DELEGATE) {
            PyErr_Format(PyExc_ValueError, "rule %zd has no expression", k);
            goto fail;
        }
    }
    self->mctx = pcre2_match_context_create(NULL);
    self->jstack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, NULL);
    if (!self->mctx || !self->jstack) {
        PyErr_NoMemory();
        goto fail;
    }
    pcre2_jit_stack_assign(self->mctx, NULL, self->jstack);
    /* Python's re has no backtracking limit; a pathological input must not stop a match here either (a match
     * that still fails is an error, and the redactor then runs its Python path). */
    pcre2_set_match_limit(self->mctx, UINT32_MAX);
    pcre2_set_depth_limit(self->mctx, UINT32_MAX);
    pcre2_set_heap_limit(self->mctx, 1024 * 1024); /* KiB: 1 GiB for the interpreter's backtracking frames */
    if (serialized != Py_None) {
        char *buf;
        Py_ssize_t len;
        if (PyBytes_AsStringAndSize(serialized, &buf, &len) < 0) goto fail;
        if (hs_deserialize_database(buf, (size_t)len, &self->db) != HS_SUCCESS) {
            PyErr_SetString(PyExc_ValueError, "cannot load this Hyperscan database");
            goto fail;
        }
    } else {
        const char **ex = PyMem_Calloc((size_t)n, sizeof(char *));
        unsigned int *fl = PyMem_Calloc((size_t)n, sizeof(unsigned int));
        unsigned int *ids = PyMem_Calloc((size_t)n, sizeof(unsigned int));
        if (!ex || !fl || !ids) {
            PyMem_Free(ex);
            PyMem_Free(fl);
            PyMem_Free(ids);
            PyErr_NoMemory();
            goto fail;
        }
        int ok = 1;
        for (Py_ssize_t k = 0; k < n && ok; k++) {
            ex[k] = PyBytes_AsString(PyList_GET_ITEM(exprs, k));
            fl[k] = (unsigned int)PyLong_AsUnsignedLong(PyList_GET_ITEM(flags, k));
            ids[k] = (unsigned int)k;
            if (!ex[k] || PyErr_Occurred()) ok = 0;
        }
        if (ok) {
            hs_compile_error_t *cerr = NULL;
            hs_error_t rc;
            Py_BEGIN_ALLOW_THREADS rc = hs_compile_multi(ex, fl, ids, (unsigned int)n, HS_MODE_BLOCK, NULL, &self->db, &cerr);
            Py_END_ALLOW_THREADS if (rc != HS_SUCCESS) {
                PyErr_Format(PyExc_ValueError, "Hyperscan cannot compile expression %d: %s",
                             cerr ? cerr->expression : -1, cerr ? cerr->message : "?");
                if (cerr) hs_free_compile_error(cerr);
                ok = 0;
            }
        }
        PyMem_Free(ex);
        PyMem_Free(fl);
        PyMem_Free(ids);
        if (!ok) goto fail;
    }
    if (hs_alloc_scratch(self->db, &self->scratch) != HS_SUCCESS) {
        PyErr_SetString(PyExc_MemoryError, "cannot allocate Hyperscan scratch space");
        goto fail;
    }
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

static PyObject *engine_serialize(Engine *self, PyObject *unused) {
    (void)unused;
    char *buf = NULL;
    size_t len = 0;
    if (hs_serialize_database(self->db, &buf, &len) != HS_SUCCESS) {
        PyErr_SetString(PyExc_RuntimeError, "cannot serialize the Hyperscan database");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(buf, (Py_ssize_t)len);
    free(buf);
    return out;
}

static int run_rule(State *st, Py_ssize_t id, Hit *hits, size_t n, Py_ssize_t *tmp, PyObject *delegate) {
    Rule *r = &st->eng->rules[id];
    st->rule = r;
    switch (r->mode) {
        case MODE_LITERAL:
            for (size_t k = 0; k < n; k++)
                if (emit(st, hits[k].to - r->width, hits[k].to) < 0) return -1;
            return 0;
        case MODE_MULTILINE: {
            Py_ssize_t lo = hits[0].to;
            for (size_t k = 1; k < n; k++)
                if (hits[k].to < lo) lo = hits[k].to;
            Py_ssize_t start = rfind_nl(st->d, lo - 1 > 0 ? lo - 1 : 0) + 1;
            return search(st, start, st->size, -1);
        }
        case MODE_START_OF:
        case MODE_AT_ANCHOR:
        case MODE_RUN_BACK: {
            for (size_t k = 0; k < n; k++)
                tmp[k] = r->mode == MODE_START_OF ? email_start(st->d, hits[k].from) : hits[k].from;
            size_t m = sort_unique(tmp, n);
            return r->mode == MODE_RUN_BACK ? search_runs(st, tmp, m) : match_at(st, tmp, m);
        }
        case MODE_LINE: {
            size_t i = 0;
            while (i < n) {
                Py_ssize_t lo = hits[i].from, end = hits[i].to;
                Py_ssize_t line_end = find_nl(st->d, end - 1 > 0 ? end - 1 : 0, st->size);
                if (line_end < 0) line_end = st->size;
                i++;
                while (i < n && hits[i].to <= line_end) {
                    if (hits[i].from < lo) lo = hits[i].from;
                    end = hits[i].to;
                    i++;
                }
                Py_ssize_t line_start = rfind_nl(st->d, end - 1 > 0 ? end - 1 : 0) + 1;
                Py_ssize_t from = lo - LOOKBACK > line_start ? lo - LOOKBACK : line_start;
                if (search(st, from, line_end, end) < 0) return -1;
            }
            return 0;
        }
        case MODE_DELEGATE: {
            PyObject *spans = PyList_New((Py_ssize_t)n);
            if (!spans) return -1;
            for (size_t k = 0; k < n; k++) {
                PyObject *t = Py_BuildValue("(nn)", hits[k].from, hits[k].to);
                if (!t) {
                    Py_DECREF(spans);
                    return -1;
                }
                PyList_SET_ITEM(spans, (Py_ssize_t)k, t);
            }
            PyObject *got = PyList_New(0);
            if (!got) {
                Py_DECREF(spans);
                return -1;
            }
            PyObject *res = PyObject_CallFunction(delegate, "nOO", id, spans, got);
            Py_DECREF(spans);
            int rc = res ? recs_from_list(st->recs, got) : -1;
            Py_XDECREF(res);
            Py_DECREF(got);
            return rc;
        }
    }
    PyErr_SetString(PyExc_RuntimeError, "unknown rule mode");
    return -1;
}

/* Every finding of engine self in data[:len] into recs, rule by rule; delegate(id, spans, out) is called for
 * a rule that Python runs, and appends that rule's findings to the list out. 0 or -1 (error set). */
static int find_into(Engine *self, const uint8_t *data, Py_ssize_t len, PyObject *delegate, Recs *recs) {
    Hits hits = {0};
    Py_ssize_t *tmp = NULL;
    size_t *counts = NULL;
    Hit *sorted = NULL;
    pcre2_match_data *md = NULL;
    hs_scratch_t *scratch = self->scratch, *own = NULL;
    int result = -1;
    if (len > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "input too large for one scan");
        goto done;
    }
    if (self->scratch_busy) { /* another thread (this one released the GIL in a delegate call) */
        if (hs_clone_scratch(self->scratch, &own) != HS_SUCCESS) {
            PyErr_NoMemory();
            goto done;
        }
        scratch = own;
    } else {
        self->scratch_busy = 1;
    }
    hs_error_t rc = hs_scan(self->db, (const char *)data, (unsigned int)len, 0, scratch, on_hit, &hits);
    if (!own) self->scratch_busy = 0;
    if (hits.oom) {
        PyErr_NoMemory();
        goto done;
    }
    if (rc != HS_SUCCESS) {
        PyErr_Format(PyExc_RuntimeError, "Hyperscan scan failed (%d)", (int)rc);
        goto done;
    }
    if (hits.n == 0) {
        result = 0;
        goto done;
    }
    /* Bucket the hits by rule, keeping the order Hyperscan reported them in. */
    counts = PyMem_Calloc((size_t)self->nrules + 1, sizeof(size_t));
    sorted = PyMem_Malloc(hits.n * sizeof(Hit));
    tmp = PyMem_Malloc(hits.n * sizeof(Py_ssize_t));
    md = pcre2_match_data_create(32, NULL);
    if (!counts || !sorted || !tmp || !md) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t k = 0; k < hits.n; k++) {
        if (hits.hits[k].id >= (unsigned int)self->nrules) { /* a database loaded for other rules */
            PyErr_SetString(PyExc_RuntimeError, "the Hyperscan database does not match the redactor's rules");
            goto done;
        }
        counts[hits.hits[k].id + 1]++;
    }
    for (Py_ssize_t k = 0; k < self->nrules; k++) counts[k + 1] += counts[k];
    {
        size_t *fill = PyMem_Malloc(((size_t)self->nrules + 1) * sizeof(size_t));
        if (!fill) {
            PyErr_NoMemory();
            goto done;
        }
        memcpy(fill, counts, ((size_t)self->nrules + 1) * sizeof(size_t));
        for (size_t k = 0; k < hits.n; k++) sorted[fill[hits.hits[k].id]++] = hits.hits[k];
        PyMem_Free(fill);
    }
    State st = {.eng = self, .d = data, .size = len, .md = md, .recs = recs};
    for (Py_ssize_t id = 0; id < self->nrules; id++) {
        size_t a = counts[id], b = counts[id + 1];
        if (a == b) continue;
        if (run_rule(&st, id, sorted + a, b - a, tmp, delegate) < 0) {
            PyMem_Free(st.cards.v);
            goto done;
        }
    }
    PyMem_Free(st.cards.v);
    result = 0;
done:
    free(hits.hits);
    PyMem_Free(counts);
    PyMem_Free(sorted);
    PyMem_Free(tmp);
    if (md) pcre2_match_data_free(md);
    if (own) hs_free_scratch(own);
    return result;
}

/* Engine.find(data, out, delegate): append every finding of data to the list out as the Python code's tuples
 * (start, end, priority, kind, canonical), rule by rule. */
static PyObject *engine_find(Engine *self, PyObject *args) {
    Py_buffer view;
    PyObject *out, *delegate;
    if (!PyArg_ParseTuple(args, "y*O!O", &view, &PyList_Type, &out, &delegate)) return NULL;
    Recs recs = {0};
    int rc = find_into(self, view.buf, view.len, delegate, &recs);
    for (size_t k = 0; rc == 0 && k < recs.n; k++) {
        PyObject *t = rec_tuple(&recs.v[k]);
        if (!t || PyList_Append(out, t) < 0) rc = -1;
        Py_XDECREF(t);
    }
    recs_free(&recs);
    PyBuffer_Release(&view);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

/* Engine.scan(data): the Hyperscan scan alone, every hit recorded by the C callback and nothing else done
 * (the floor of find(), for benchmarks/redaction.py); returns the number of hits. */
static PyObject *engine_scan(Engine *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    Hits hits = {0};
    hs_error_t rc = view.len > (Py_ssize_t)UINT32_MAX
                        ? HS_INVALID
                        : hs_scan(self->db, view.buf, (unsigned int)view.len, 0, self->scratch, on_hit, &hits);
    PyBuffer_Release(&view);
    free(hits.hits);
    if (rc != HS_SUCCESS || hits.oom) {
        PyErr_Format(PyExc_RuntimeError, "Hyperscan scan failed (%d)", (int)rc);
        return NULL;
    }
    return PyLong_FromSize_t(hits.n);
}

static PyMethodDef engine_methods[] = {
    {"scan", (PyCFunction)engine_scan, METH_VARARGS, "scan(data): the number of anchor hits (the scan alone)."},
    {"find", (PyCFunction)engine_find, METH_VARARGS, "find(data, out, delegate): append the findings of data to out."},
    {"serialize", (PyCFunction)engine_serialize, METH_NOARGS, "The Hyperscan database as bytes."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "golive._redact_native.Engine",
    .tp_basicsize = sizeof(Engine),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = engine_new,
    .tp_dealloc = (destructor)engine_dealloc,
    .tp_methods = engine_methods,
    .tp_doc = "The redactor's rules: a Hyperscan database of their anchors and their exact expressions.",
};

/* ------------------------------------------------------------------------------------------------------ */
/* Placing placeholders: Redactor._apply. */

static int cmp_rec(const void *a, const void *b) {
    const Rec *x = a, *y = b;
    if (x->s != y->s) return (x->s > y->s) - (x->s < y->s);
    if (x->prio != y->prio) return (x->prio > y->prio) - (x->prio < y->prio);
    return (x->seq > y->seq) - (x->seq < y->seq); /* Python's sort is stable */
}

typedef struct {
    PyObject *bytes; /* the result, written in place and cut to size at the end */
    size_t n, cap;
    PyObject *key; /* one (kind, value) tuple, refilled for each dict lookup (no allocation per finding) */
} Out;

static int out_put(Out *o, const char *p, Py_ssize_t len) {
    if (len <= 0) return 0;
    if (o->n + (size_t)len > o->cap) {
        size_t cap = o->cap + o->cap / 2 + (size_t)len + 256;
        if (_PyBytes_Resize(&o->bytes, (Py_ssize_t)cap) < 0) return -1;
        o->cap = cap;
    }
    memcpy(PyBytes_AS_STRING(o->bytes) + o->n, p, (size_t)len);
    o->n += (size_t)len;
    return 0;
}

static int put_placeholder(Out *o, PyObject *made, PyObject *placeholder, PyObject *kind, PyObject *value) {
    PyObject *key = o->key;
    if (Py_REFCNT(key) != 1) { /* held elsewhere (never expected): use a new one */
        key = PyTuple_New(2);
        if (!key) return -1;
        Py_SETREF(o->key, key);
    }
    Py_XSETREF(PyTuple_GET_ITEM(key, 0), Py_NewRef(kind));
    Py_XSETREF(PyTuple_GET_ITEM(key, 1), Py_NewRef(value));
    PyObject *got = PyDict_GetItemWithError(made, key); /* borrowed */
    PyObject *own = NULL;
    if (!got) {
        if (PyErr_Occurred()) return -1;
        own = PyObject_CallFunctionObjArgs(placeholder, kind, value, NULL);
        if (!own) return -1;
        got = own;
    }
    char *p;
    Py_ssize_t len;
    int rc = PyBytes_AsStringAndSize(got, &p, &len);
    if (rc == 0) rc = out_put(o, p, len);
    Py_XDECREF(own);
    return rc;
}

/* data[:upto] with the records replaced by placeholders. The records are sorted here. */
static PyObject *apply_recs(PyObject *data, Recs *recs, Py_ssize_t upto, PyObject *made, PyObject *placeholder) {
    const char *d = PyBytes_AS_STRING(data);
    size_t n = recs->n;
    if (upto < 0 || upto > PyBytes_GET_SIZE(data)) {
        PyErr_SetString(PyExc_ValueError, "upto out of range");
        return NULL;
    }
    if (n == 0) return PyBytes_FromStringAndSize(d, upto);
    Rec *items = recs->v;
    for (size_t k = 0; k < n; k++) {
        if (items[k].s < 0 || items[k].e > upto || items[k].s > items[k].e) {
            PyErr_SetString(PyExc_ValueError, "a finding lies outside the text");
            return NULL;
        }
        /* Whole UTF-8 characters (redact._whole_characters): a value with a byte limit may end inside one. */
        while (items[k].s > 0 && items[k].s < upto && ((uint8_t)d[items[k].s] & 0xC0) == 0x80) items[k].s--;
        while (items[k].e < upto && ((uint8_t)d[items[k].e] & 0xC0) == 0x80) items[k].e++;
    }
    int in_order = 1;
    for (size_t k = 1; k < n && in_order; k++)
        if (cmp_rec(&items[k - 1], &items[k]) > 0) in_order = 0;
    if (!in_order) qsort(items, n, sizeof(Rec), cmp_rec);
    Out o = {0};
    o.cap = (size_t)upto + (size_t)upto / 8 + 256;
    o.bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)o.cap);
    o.key = PyTuple_New(2);
    if (!o.bytes || !o.key) goto fail;
    Py_ssize_t pos = 0;
    size_t i = 0;
    while (i < n) {
        Rec *first = &items[i];
        Py_ssize_t start = first->s, end = first->e;
        i++;
        if (i == n || items[i].s >= end) { /* the common case: a finding alone */
            if (start > pos && out_put(&o, d + pos, start - pos) < 0) goto fail;
            PyObject *value = first->canonical, *own = NULL;
            if (value == Py_None) {
                own = value = PyBytes_FromStringAndSize(d + start, end - start);
                if (!own) goto fail;
            }
            int rc = put_placeholder(&o, made, placeholder, first->kind, value);
            Py_XDECREF(own);
            if (rc < 0) goto fail;
            pos = end;
            continue;
        }
        Rec *best = first;
        int one_canonical = 1;
        while (i < n && items[i].s < end) {
            if (items[i].prio < best->prio) best = &items[i];
            if (one_canonical) {
                PyObject *c2 = items[i].canonical;
                int eq = c2 == first->canonical ? 1 : PyObject_RichCompareBool(c2, first->canonical, Py_EQ);
                if (eq < 0) goto fail;
                if (!eq) one_canonical = 0;
            }
            if (items[i].e > end) end = items[i].e;
            i++;
        }
        PyObject *own = NULL, *key;
        if (best->canonical != Py_None && (one_canonical || (best->s == start && best->e == end))) {
            key = best->canonical;
        } else {
            own = key = PyBytes_FromStringAndSize(d + start, end - start);
            if (!own) goto fail;
        }
        int rc = out_put(&o, d + pos, start - pos);
        if (rc == 0) rc = put_placeholder(&o, made, placeholder, best->kind, key);
        Py_XDECREF(own);
        if (rc < 0) goto fail;
        pos = end;
    }
    if (upto > pos && out_put(&o, d + pos, upto - pos) < 0) goto fail;
    Py_DECREF(o.key);
    if (_PyBytes_Resize(&o.bytes, (Py_ssize_t)o.n) < 0) return NULL;
    return o.bytes;
fail:
    Py_XDECREF(o.key);
    Py_XDECREF(o.bytes);
    return NULL;
}

/* apply(data, found, upto, made, placeholder) -> bytes: Redactor._apply for a list of finding tuples. */
static PyObject *native_apply(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *found, *made, *placeholder;
    Py_ssize_t upto;
    if (!PyArg_ParseTuple(args, "O!O!nO!O", &PyBytes_Type, &data, &PyList_Type, &found, &upto, &PyDict_Type, &made,
                          &placeholder))
        return NULL;
    Recs recs = {0};
    PyObject *result = recs_from_list(&recs, found) < 0 ? NULL : apply_recs(data, &recs, upto, made, placeholder);
    recs_free(&recs);
    return result;
}

/* redact(data, engines, delegates, extra, made, placeholder) -> bytes: Redactor._redact in one call. The
 * findings of each engine (None: skipped) in turn, delegate[k] running engine k's Python rules; then the
 * list extra (findings of rules only Python runs); then placeholders. No tuple is made for what C finds. */
static PyObject *native_redact(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *engines, *delegates, *extra, *made, *placeholder;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O", &PyBytes_Type, &data, &PyTuple_Type, &engines, &PyTuple_Type,
                          &delegates, &PyList_Type, &extra, &PyDict_Type, &made, &placeholder))
        return NULL;
    if (PyTuple_GET_SIZE(delegates) != PyTuple_GET_SIZE(engines)) {
        PyErr_SetString(PyExc_ValueError, "one delegate per engine");
        return NULL;
    }
    Recs recs = {0};
    PyObject *result = NULL;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(engines); k++) {
        PyObject *eng = PyTuple_GET_ITEM(engines, k);
        if (eng == Py_None) continue;
        if (!PyObject_TypeCheck(eng, &EngineType)) {
            PyErr_SetString(PyExc_TypeError, "engines are Engine objects or None");
            goto done;
        }
        if (find_into((Engine *)eng, (const uint8_t *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                      PyTuple_GET_ITEM(delegates, k), &recs) < 0)
            goto done;
    }
    if (recs_from_list(&recs, extra) < 0) goto done;
    result = apply_recs(data, &recs, PyBytes_GET_SIZE(data), made, placeholder);
done:
    recs_free(&recs);
    return result;
}

static PyObject *native_hs_version(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyUnicode_FromString(hs_version());
}

static PyMethodDef module_methods[] = {
    {"apply", native_apply, METH_VARARGS, "apply(data, found, upto, made, placeholder): Redactor._apply in C."},
    {"redact", native_redact, METH_VARARGS,
     "redact(data, engines, delegates, extra, made, placeholder): Redactor._redact in C."},
    {"hs_version", native_hs_version, METH_NOARGS, "The version of the Hyperscan library this module runs."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "golive._redact_native",
                                       "The redactor's per-match work in C (see golive/redact.py).", -1,
                                       module_methods};

PyMODINIT_FUNC PyInit__redact_native(void) {
    if (hs_valid_platform() != HS_SUCCESS) {
        PyErr_SetString(PyExc_ImportError, "Hyperscan does not run on this CPU");
        return NULL;
    }
    if (PyType_Ready(&EngineType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&EngineType);
    if (PyModule_AddObject(m, "Engine", (PyObject *)&EngineType) < 0) {
        Py_DECREF(&EngineType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "PCRE2_ANCHORED", (long)PCRE2_ANCHORED) < 0 ||
        PyModule_AddIntConstant(m, "PCRE2_DOTALL", (long)PCRE2_DOTALL) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
