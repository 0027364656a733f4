"""SKU search index: the compiled kernel (built as ``vaultsync._compiled.search``).

Same API, results and exceptions as the reference ``vaultsync.pure.search``, which documents the
semantics; this module only makes them fast. Do not import it directly: use ``vaultsync.native``.

Layout (all C arrays, no Python objects per token or per document):

* **vocabulary**: every distinct folded token once, bytes in one arena, interned through an
  open-addressing hash table; per token a posting list of document slots (unordered, so a
  document leaves a list by swap-remove in O(1): each document remembers its position in every
  list it is on). Many SKUs share a product name, so a token is stored once however many SKUs
  carry it.
* **prefix**: token ids sorted by bytes (binary search gives the range), plus a small unsorted
  tail of tokens added since the last merge, scanned linearly and merged once it grows.
* **substring / typo**: non-numeric tokens are also laid out back to back in one buffer, so a
  substring search is one ``memchr``/``memcmp`` sweep and the typo search one pass with a length
  filter, a byte-set filter (``sk_mask``: most tokens are provably too far without any DP) and a
  banded, early-exit optimal-string-alignment distance (``search_kernels.h``).
* **documents**: dense slots (a hash map from the caller's doc id); what queries read per slot
  sits in dense arrays (rank key, name head, tier), filter attributes in a small ``Doc``; per slot
  one small block with its distinct tokens (non-numeric first), their posting positions and the
  token sequences of the name and the code fields (for the exact/prefix tiers).

Queries at a million SKUs are bound by memory latency (a short prefix reaches 100k+ postings), so
the loops touch as few cache lines per posting as possible and prefetch ahead. A one-word query
counts, ranks and keeps the top keys in one pass over its postings (``_single``). A multi-word
query starts from the word with the shortest postings and keeps candidates in a bitmap (one bit
per slot: cache-resident) with their tiers in a byte array; later words either walk their
postings against the bitmap or, when that is cheaper, check each surviving candidate's own token
list. The top results are then picked with a bounded heap over 64-bit rank keys (tier, in stock,
popularity, doc id).

Validation and folding of non-ASCII text are delegated to the reference (so error messages and
folding cannot drift); ASCII text - nearly all of a catalog - is lowered and tokenised here.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_CheckExact
from libc.stdint cimport INT64_MAX, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memchr, memcmp, memcpy, memset

from search_kernels cimport SK_MAX_FUZZY, SK_PREFETCH, sk_find, sk_hash, sk_mask, sk_osa_within, sk_popcount


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_ASCII(object s)

from vaultsync.pure import search as _ref
from vaultsync.pure.search import (
    EXACT_CODE,
    FUZZY,
    MAX_DOC_ID,
    MAX_FIELD_CHARS,
    MAX_FUZZY_BYTES,
    MAX_LIMIT,
    MAX_ON_HAND,
    MAX_POPULARITY,
    MAX_QUERY_CHARS,
    MAX_WORDS,
    MIN_SUBSTRING,
    NAME_EXACT,
    NAME_PREFIX,
    SUBSTRING,
    WORD_PREFIX,
    edit_budget,
    fold,
    osa_distance,
    tokenize,
)

__all__ = [
    "EXACT_CODE",
    "FUZZY",
    "MAX_DOC_ID",
    "MAX_FIELD_CHARS",
    "MAX_FUZZY_BYTES",
    "MAX_LIMIT",
    "MAX_ON_HAND",
    "MAX_POPULARITY",
    "MAX_QUERY_CHARS",
    "MAX_WORDS",
    "MIN_SUBSTRING",
    "NAME_EXACT",
    "NAME_PREFIX",
    "SUBSTRING",
    "SearchIndex",
    "WORD_PREFIX",
    "edit_budget",
    "fold",
    "osa_distance",
    "tokenize",
]

if SK_MAX_FUZZY != MAX_FUZZY_BYTES:
    raise ImportError("search_kernels.h SK_MAX_FUZZY disagrees with vaultsync.pure.search")

cdef enum:
    NFIELDS = 7
    # tokdata header: n_distinct, n_name, n_sku, n_barcode, n_cert, n_alpha (the distinct tokens
    # list the n_alpha non-numeric ones first: a word with a letter can only match those)
    HDR = 6
    # tiers (checked against the reference below)
    T_EXACT_CODE = 0
    T_NAME_EXACT = 1
    T_NAME_PREFIX = 2
    T_WORD_PREFIX = 3
    T_SUBSTRING = 4
    T_FUZZY = 5
    NOCLASS = 6
    # merge the unsorted tail of the vocabulary into the sorted array once it is this long
    TAIL_MERGE = 512
    # a word whose prefix range holds more tokens than this is "broad": classified per candidate
    LIST_CAP = 4096
    # postings ahead that the one-word scan prefetches (covers a memory latency at ~2 ns/posting)
    PREFETCH_AHEAD = 16

if (T_EXACT_CODE, T_NAME_EXACT, T_NAME_PREFIX, T_WORD_PREFIX, T_SUBSTRING, T_FUZZY) != (
    EXACT_CODE, NAME_EXACT, NAME_PREFIX, WORD_PREFIX, SUBSTRING, FUZZY
):
    raise ImportError("vaultsync._compiled.search tiers disagree with vaultsync.pure.search")

cdef int64_t C_MAX_DOC_ID = MAX_DOC_ID
cdef int64_t C_MAX_POP = MAX_POPULARITY
cdef int64_t C_MAX_ON_HAND = MAX_ON_HAND
cdef int C_MAX_LIMIT = MAX_LIMIT
cdef int C_MIN_SUB = MIN_SUBSTRING
cdef Py_ssize_t C_MAX_FIELD = MAX_FIELD_CHARS

_FIELD_NAMES = ("name", "set_code", "set_name", "collector_number", "sku_code", "barcode", "cert_number")


# --------------------------------------------------------------------------------- helpers

ctypedef struct Doc:
    # (the rank key, the name's first token and the query tier live in the dense per-slot arrays
    # ``dbase`` / ``dname`` / ``dtier``: queries scan those, a Doc is read only under a filter)
    uint8_t alive
    uint8_t flags  # 1: the name is one token; 2: a code field is one token (one-word lifts)
    int32_t game
    int32_t cond
    int32_t fin


cdef uint32_t NO_NAME = 0xFFFFFFFF


cdef inline uint64_t _base(int64_t on_hand, int64_t pop, int64_t doc_id) noexcept:
    return ((<uint64_t>(on_hand <= 0)) << 60) | ((<uint64_t>(C_MAX_POP - pop)) << 30) | <uint64_t>doc_id


cdef int _grow(void** p, int64_t* cap, int64_t need, size_t elem) except -1:
    """Ensure ``*p`` holds ``need`` elements (doubling); MemoryError on failure."""
    cdef int64_t n
    cdef void* q
    if need <= cap[0]:
        return 0
    n = cap[0] * 2 if cap[0] else 16
    while n < need:
        n *= 2
    q = realloc(p[0], <size_t>n * elem)
    if q == NULL:
        raise MemoryError()
    p[0] = q
    cap[0] = n
    return 0


# qsort has no context argument; the index sorts under the GIL, one sort at a time.
cdef const char* _s_arena = NULL
cdef const int64_t* _s_off = NULL
cdef const int32_t* _s_len = NULL


cdef int _cmp_tok(const void* a, const void* b) noexcept nogil:
    cdef int32_t x = (<const int32_t*>a)[0]
    cdef int32_t y = (<const int32_t*>b)[0]
    cdef int32_t lx = _s_len[x], ly = _s_len[y]
    cdef int r = memcmp(_s_arena + _s_off[x], _s_arena + _s_off[y], <size_t>(lx if lx < ly else ly))
    if r:
        return r
    return (lx > ly) - (lx < ly)


cdef int _cmp_u64(const void* a, const void* b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t*>a)[0]
    cdef uint64_t y = (<const uint64_t*>b)[0]
    return (x > y) - (x < y)


cdef inline void _heap_sift_down(uint64_t* h, int64_t n, int64_t i) noexcept nogil:
    """Max-heap sift-down."""
    cdef int64_t c
    cdef uint64_t v = h[i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and h[c + 1] > h[c]:
            c += 1
        if h[c] <= v:
            break
        h[i] = h[c]
        i = c
    h[i] = v


cdef inline void _heap_sift_up(uint64_t* h, int64_t i) noexcept nogil:
    cdef int64_t parent
    cdef uint64_t v = h[i]
    while i > 0:
        parent = (i - 1) >> 1
        if h[parent] >= v:
            break
        h[i] = h[parent]
        i = parent
    h[i] = v


cdef inline bint _is_numeric(const char* s, int32_t n) noexcept nogil:
    cdef int32_t i
    for i in range(n):
        if s[i] < 48 or s[i] > 57:
            return False
    return n > 0


cdef class SearchIndex:
    """In-memory ranked index over SKUs (semantics: ``vaultsync.pure.search``).

    Every method runs with the GIL held and never releases it, so each call is atomic with
    respect to other Python threads; :class:`vaultsync.search.SkuIndex` still serialises access
    so the pure twin behaves the same.
    """

    # vocabulary
    cdef char* arena
    cdef int64_t arena_n, arena_cap
    cdef int64_t* tok_off
    cdef int32_t* tok_len
    cdef uint8_t* tok_num
    cdef uint64_t* tok_hash
    cdef int32_t** post
    cdef int32_t* post_n
    cdef int32_t* post_cap
    cdef uint32_t* tok_stamp
    cdef uint8_t* tok_class
    cdef int32_t* tok_code1  # live documents with a code field that is exactly this one token
    cdef int64_t ntok, tok_cap
    cdef int32_t* ttab
    cdef int64_t ttab_cap
    cdef uint32_t tgen
    # prefix order
    cdef int32_t* sorted_ids
    cdef int64_t n_sorted, sorted_cap
    # non-numeric tokens back to back
    cdef char* abuf
    cdef int64_t abuf_n, abuf_cap
    cdef int64_t* aoff
    cdef uint64_t* amask  # per non-numeric token: its byte-value set (sk_mask), the typo prefilter
    cdef int32_t* aid
    cdef int64_t nalpha, alpha_cap
    # documents
    cdef int64_t nslot, slot_cap, nlive
    cdef Doc* doc
    # per slot, apart from Doc so the one-word scan touches 12 bytes per document, not a struct:
    # rank key without the tier, (out of stock) << 60 | (MAX_POP - popularity) << 30 | doc id
    cdef uint64_t* dbase
    # first token of the name << 1 | (the name is that one token); NO_NAME if the name is empty
    cdef uint32_t* dname
    cdef uint8_t* dtier  # the current query's tier of each candidate slot
    cdef int32_t** tokdata
    # doc id -> slot (never shrinks: a removed doc keeps its slot for a later re-add)
    cdef int32_t* idkeys
    cdef int32_t* idvals
    cdef int64_t idcap, idused
    cdef dict attr_ids
    # scratch
    cdef char* cbuf
    cdef int64_t cbuf_cap, _cbuf_used
    cdef int32_t* ts_start
    cdef int32_t* ts_len
    cdef int64_t ts_cap
    cdef int32_t* ids
    cdef int64_t ids_cap
    cdef int32_t* wl_tid
    cdef uint8_t* wl_cls
    cdef int64_t wl_cap, wlc_cap
    cdef int32_t* cand
    cdef int64_t cand_cap
    cdef uint64_t* keys
    cdef int64_t keys_cap
    # one bit per slot each (cache-resident at a million SKUs): "already counted" in the one-word
    # scan; current candidates / matched by this word in the multi-word one
    cdef uint64_t* seen
    cdef int64_t seen_cap
    cdef uint64_t* seen2
    cdef int64_t seen2_cap

    def __cinit__(self):
        self.attr_ids = {}
        self.ttab_cap = 1024
        self.ttab = <int32_t*>malloc(self.ttab_cap * sizeof(int32_t))
        self.idcap = 1024
        self.idkeys = <int32_t*>malloc(self.idcap * sizeof(int32_t))
        self.idvals = <int32_t*>malloc(self.idcap * sizeof(int32_t))
        if self.ttab == NULL or self.idkeys == NULL or self.idvals == NULL:
            raise MemoryError()
        memset(self.ttab, 0, self.ttab_cap * sizeof(int32_t))
        memset(self.idkeys, 0xFF, self.idcap * sizeof(int32_t))  # -1: empty

    def __dealloc__(self):
        cdef int64_t i
        if self.post != NULL:
            for i in range(self.ntok):
                free(self.post[i])
        if self.tokdata != NULL:
            for i in range(self.nslot):
                free(self.tokdata[i])
        free(self.arena)
        free(self.tok_off)
        free(self.tok_len)
        free(self.tok_num)
        free(self.tok_hash)
        free(self.post)
        free(self.post_n)
        free(self.post_cap)
        free(self.tok_stamp)
        free(self.tok_class)
        free(self.tok_code1)
        free(self.ttab)
        free(self.sorted_ids)
        free(self.abuf)
        free(self.aoff)
        free(self.aid)
        free(self.amask)
        free(self.doc)
        free(self.tokdata)
        free(self.idkeys)
        free(self.idvals)
        free(self.cbuf)
        free(self.ts_start)
        free(self.ts_len)
        free(self.ids)
        free(self.wl_tid)
        free(self.wl_cls)
        free(self.cand)
        free(self.keys)
        free(self.seen)
        free(self.seen2)
        free(self.dtier)
        free(self.dbase)
        free(self.dname)

    # ----------------------------------------------------------------------------- vocabulary

    cdef int32_t _find_token(self, const char* s, int32_t n, uint64_t h) noexcept:
        cdef int64_t mask = self.ttab_cap - 1
        cdef int64_t i = <int64_t>(h & <uint64_t>mask)
        cdef int32_t t
        while True:
            t = self.ttab[i]
            if t == 0:
                return -1
            t -= 1
            if self.tok_hash[t] == h and self.tok_len[t] == n and memcmp(self.arena + self.tok_off[t], s, n) == 0:
                return t
            i = (i + 1) & mask

    cdef int _rehash(self) except -1:
        cdef int64_t cap = self.ttab_cap * 2, mask, i
        cdef int32_t* tab = <int32_t*>malloc(cap * sizeof(int32_t))
        cdef int32_t t
        if tab == NULL:
            raise MemoryError()
        memset(tab, 0, cap * sizeof(int32_t))
        mask = cap - 1
        for t in range(self.ntok):
            i = <int64_t>(self.tok_hash[t] & <uint64_t>mask)
            while tab[i] != 0:
                i = (i + 1) & mask
            tab[i] = t + 1
        free(self.ttab)
        self.ttab = tab
        self.ttab_cap = cap
        return 0

    cdef int32_t _intern(self, const char* s, int32_t n) except -1:
        cdef uint64_t h = sk_hash(s, n)
        cdef int32_t t = self._find_token(s, n, h)
        cdef int64_t i, mask, cap
        if t >= 0:
            return t
        if (self.ntok + 1) * 2 > self.ttab_cap:
            self._rehash()
        t = <int32_t>self.ntok
        if t + 1 > self.tok_cap:
            cap = self.tok_cap
            _grow(<void**>&self.tok_off, &cap, t + 1, sizeof(int64_t)); cap = self.tok_cap
            _grow(<void**>&self.tok_len, &cap, t + 1, sizeof(int32_t)); cap = self.tok_cap
            _grow(<void**>&self.tok_num, &cap, t + 1, sizeof(uint8_t)); cap = self.tok_cap
            _grow(<void**>&self.tok_hash, &cap, t + 1, sizeof(uint64_t)); cap = self.tok_cap
            _grow(<void**>&self.post, &cap, t + 1, sizeof(int32_t*)); cap = self.tok_cap
            _grow(<void**>&self.post_n, &cap, t + 1, sizeof(int32_t)); cap = self.tok_cap
            _grow(<void**>&self.post_cap, &cap, t + 1, sizeof(int32_t)); cap = self.tok_cap
            _grow(<void**>&self.tok_stamp, &cap, t + 1, sizeof(uint32_t)); cap = self.tok_cap
            _grow(<void**>&self.tok_class, &cap, t + 1, sizeof(uint8_t)); cap = self.tok_cap
            _grow(<void**>&self.tok_code1, &cap, t + 1, sizeof(int32_t))
            self.tok_cap = cap
        _grow(<void**>&self.arena, &self.arena_cap, self.arena_n + n, 1)
        memcpy(self.arena + self.arena_n, s, n)
        self.tok_off[t] = self.arena_n
        self.arena_n += n
        self.tok_len[t] = n
        self.tok_num[t] = _is_numeric(s, n)
        self.tok_hash[t] = h
        self.post[t] = NULL
        self.post_n[t] = 0
        self.post_cap[t] = 0
        self.tok_stamp[t] = 0
        self.tok_class[t] = 0
        self.tok_code1[t] = 0
        self.ntok += 1
        mask = self.ttab_cap - 1
        i = <int64_t>(h & <uint64_t>mask)
        while self.ttab[i] != 0:
            i = (i + 1) & mask
        self.ttab[i] = t + 1
        if not self.tok_num[t]:
            _grow(<void**>&self.abuf, &self.abuf_cap, self.abuf_n + n + 1, 1)
            if self.nalpha + 1 > self.alpha_cap:
                cap = self.alpha_cap
                _grow(<void**>&self.aoff, &cap, self.nalpha + 1, sizeof(int64_t)); cap = self.alpha_cap
                _grow(<void**>&self.aid, &cap, self.nalpha + 1, sizeof(int32_t)); cap = self.alpha_cap
                _grow(<void**>&self.amask, &cap, self.nalpha + 1, sizeof(uint64_t))
                self.alpha_cap = cap
            memcpy(self.abuf + self.abuf_n, s, n)
            self.aoff[self.nalpha] = self.abuf_n
            self.aid[self.nalpha] = t
            self.amask[self.nalpha] = sk_mask(s, n)
            self.abuf_n += n
            self.abuf[self.abuf_n] = 1  # separator: never part of a token
            self.abuf_n += 1
            self.nalpha += 1
        return t

    cdef int _merge_sorted(self) except -1:
        """Sort the vocabulary tail and merge it into ``sorted_ids``."""
        global _s_arena, _s_off, _s_len
        cdef int64_t tail = self.ntok - self.n_sorted
        cdef int64_t i, a, b, k
        cdef int32_t* out
        cdef int32_t* t
        if tail <= 0:
            return 0
        t = <int32_t*>malloc(tail * sizeof(int32_t))
        out = <int32_t*>malloc(self.ntok * sizeof(int32_t))
        if t == NULL or out == NULL:
            free(t)
            free(out)
            raise MemoryError()
        for i in range(tail):
            t[i] = <int32_t>(self.n_sorted + i)
        _s_arena = self.arena
        _s_off = self.tok_off
        _s_len = self.tok_len
        qsort(t, tail, sizeof(int32_t), _cmp_tok)
        a = 0
        b = 0
        k = 0
        while a < self.n_sorted and b < tail:
            if _cmp_tok(&self.sorted_ids[a], &t[b]) <= 0:
                out[k] = self.sorted_ids[a]
                a += 1
            else:
                out[k] = t[b]
                b += 1
            k += 1
        while a < self.n_sorted:
            out[k] = self.sorted_ids[a]
            a += 1
            k += 1
        while b < tail:
            out[k] = t[b]
            b += 1
            k += 1
        free(t)
        free(self.sorted_ids)
        self.sorted_ids = out
        self.sorted_cap = self.ntok
        self.n_sorted = self.ntok
        return 0

    # ----------------------------------------------------------------------------- documents

    cdef int32_t _slot_of(self, int32_t doc_id) noexcept:
        cdef int64_t mask = self.idcap - 1
        cdef int64_t i = <int64_t>((<uint64_t>doc_id * 0x9E3779B97F4A7C15ULL) >> 20) & mask
        while True:
            if self.idkeys[i] == doc_id:
                return self.idvals[i]
            if self.idkeys[i] == -1:
                return -1
            i = (i + 1) & mask

    cdef int _id_put(self, int32_t doc_id, int32_t slot) except -1:
        cdef int64_t cap, mask, i, j
        cdef int32_t* nk
        cdef int32_t* nv
        if (self.idused + 1) * 2 > self.idcap:
            cap = self.idcap * 2
            nk = <int32_t*>malloc(cap * sizeof(int32_t))
            nv = <int32_t*>malloc(cap * sizeof(int32_t))
            if nk == NULL or nv == NULL:
                free(nk)
                free(nv)
                raise MemoryError()
            memset(nk, 0xFF, cap * sizeof(int32_t))
            mask = cap - 1
            for j in range(self.idcap):
                if self.idkeys[j] != -1:
                    i = <int64_t>((<uint64_t>self.idkeys[j] * 0x9E3779B97F4A7C15ULL) >> 20) & mask
                    while nk[i] != -1:
                        i = (i + 1) & mask
                    nk[i] = self.idkeys[j]
                    nv[i] = self.idvals[j]
            free(self.idkeys)
            free(self.idvals)
            self.idkeys = nk
            self.idvals = nv
            self.idcap = cap
        mask = self.idcap - 1
        i = <int64_t>((<uint64_t>doc_id * 0x9E3779B97F4A7C15ULL) >> 20) & mask
        while self.idkeys[i] != -1:
            i = (i + 1) & mask
        self.idkeys[i] = doc_id
        self.idvals[i] = slot
        self.idused += 1
        return 0

    cdef int32_t _new_slot(self, int32_t doc_id) except -1:
        cdef int32_t s = <int32_t>self.nslot
        cdef int64_t cap
        if s + 1 > self.slot_cap:
            cap = self.slot_cap
            _grow(<void**>&self.doc, &cap, s + 1, sizeof(Doc)); cap = self.slot_cap
            _grow(<void**>&self.dbase, &cap, s + 1, sizeof(uint64_t)); cap = self.slot_cap
            _grow(<void**>&self.dname, &cap, s + 1, sizeof(uint32_t)); cap = self.slot_cap
            _grow(<void**>&self.dtier, &cap, s + 1, sizeof(uint8_t)); cap = self.slot_cap
            _grow(<void**>&self.tokdata, &cap, s + 1, sizeof(int32_t*))
            self.slot_cap = cap
        memset(&self.doc[s], 0, sizeof(Doc))
        self.dbase[s] = <uint64_t>doc_id
        self.dname[s] = NO_NAME
        self.tokdata[s] = NULL
        self._id_put(doc_id, s)
        self.nslot += 1
        return s

    cdef void _count_codes(self, const int32_t* td, int32_t delta) noexcept:
        """Add ``delta`` to ``tok_code1`` of each code field of ``td`` that is a single token."""
        cdef int32_t nd = td[0], f, fl
        cdef const int32_t* seq = td + HDR + 2 * nd + td[1]
        for f in range(3):
            fl = td[2 + f]
            if fl == 1:
                self.tok_code1[seq[0]] += delta
            seq += fl

    cdef void _unlink(self, int32_t s) noexcept:
        """Take slot ``s`` off every posting list (swap-remove, fixing the moved doc's position)."""
        cdef int32_t* td = self.tokdata[s]
        cdef int32_t nd = td[0], j, t, p, last, q, nq
        cdef int32_t* tq
        for j in range(nd):
            t = td[HDR + j]
            p = td[HDR + nd + j]
            self.post_n[t] -= 1
            last = self.post[t][self.post_n[t]]
            if last != s:
                self.post[t][p] = last
                tq = self.tokdata[last]
                nq = tq[0]
                for q in range(nq):
                    if tq[HDR + q] == t:
                        tq[HDR + nq + q] = p
                        break

    cdef int _link(self, int32_t s) except -1:
        cdef int32_t* td = self.tokdata[s]
        cdef int32_t nd = td[0], j, t, n
        cdef int64_t cap
        for j in range(nd):
            t = td[HDR + j]
            n = self.post_n[t]
            if n == self.post_cap[t]:
                cap = self.post_cap[t]
                _grow(<void**>&self.post[t], &cap, n + 1, sizeof(int32_t))
                self.post_cap[t] = <int32_t>cap
            self.post[t][n] = s
            td[HDR + nd + j] = n
            self.post_n[t] = n + 1
        return 0

    cdef int64_t _tokenize_field(self, object value, str what, int64_t nt) except -2:
        """Append the tokens of one field to the scratch (ts_start/ts_len into cbuf); new count."""
        cdef Py_ssize_t n, i
        cdef const char* src
        cdef int64_t base, start
        cdef char c
        cdef list toks
        cdef bytes b
        if value is None:
            return nt
        if PyUnicode_CheckExact(value) and PyUnicode_IS_ASCII(value) and len(<str>value) <= C_MAX_FIELD:
            src = PyUnicode_AsUTF8AndSize(value, &n)
            if memchr(src, 0, n) != NULL:
                _ref._text(value, what, MAX_FIELD_CHARS)  # raises the reference's ValueError
            base = self._cbuf_reserve(n)
            self._ts_reserve(nt + n // 2 + 1)
            start = -1
            for i in range(n):
                c = src[i]
                if 65 <= c <= 90:
                    c += 32
                if (97 <= c <= 122) or (48 <= c <= 57):
                    self.cbuf[base + i] = c
                    if start < 0:
                        start = i
                elif start >= 0:
                    self.ts_start[nt] = <int32_t>(base + start)
                    self.ts_len[nt] = <int32_t>(i - start)
                    nt += 1
                    start = -1
            if start >= 0:
                self.ts_start[nt] = <int32_t>(base + start)
                self.ts_len[nt] = <int32_t>(n - start)
                nt += 1
            self._cbuf_used = base + n
            return nt
        toks = _ref._field_tokens(value, what)
        for tok in toks:
            b = (<str>tok).encode("utf-8")
            n = PyBytes_GET_SIZE(b)
            base = self._cbuf_reserve(n)
            memcpy(self.cbuf + base, PyBytes_AS_STRING(b), n)
            self._cbuf_used = base + n
            self._ts_reserve(nt + 1)
            self.ts_start[nt] = <int32_t>base
            self.ts_len[nt] = <int32_t>n
            nt += 1
        return nt

    cdef int _ts_reserve(self, int64_t need) except -1:
        cdef int64_t cap
        if need > self.ts_cap:
            cap = self.ts_cap
            _grow(<void**>&self.ts_start, &cap, need, sizeof(int32_t)); cap = self.ts_cap
            _grow(<void**>&self.ts_len, &cap, need, sizeof(int32_t))
            self.ts_cap = cap
        return 0

    cdef int64_t _cbuf_reserve(self, int64_t n) except -1:
        _grow(<void**>&self.cbuf, &self.cbuf_cap, self._cbuf_used + n + 1, 1)
        return self._cbuf_used

    cdef int32_t _attr(self, object value, str what) except -1:
        if value is None:
            return 0
        if not PyUnicode_CheckExact(value):
            _ref._check_attr(value, what)  # raises TypeError for non-str; str subclasses pass
            value = str(value)
        a = self.attr_ids.get(value)
        if a is None:
            a = len(self.attr_ids) + 1
            self.attr_ids[value] = a
        return a

    def add(
        self,
        doc_id,
        name=None,
        set_code=None,
        set_name=None,
        collector_number=None,
        sku_code=None,
        barcode=None,
        cert_number=None,
        *,
        game=None,
        condition=None,
        finish=None,
        on_hand=0,
        popularity=0,
    ):
        """Insert or replace document ``doc_id`` (see ``vaultsync.pure.search.SearchIndex.add``)."""
        cdef int64_t nf[NFIELDS + 1]
        cdef int64_t nt = 0, k, j, cap
        cdef int32_t d, s, t, g, co, fi, nd, na, total, old_nd
        cdef int64_t oh
        cdef int32_t po
        cdef int32_t* td
        cdef int32_t* old
        cdef bint same
        if not (type(doc_id) is int and 0 <= doc_id <= C_MAX_DOC_ID):
            doc_id = _ref._check_doc_id(doc_id)
        d = <int32_t>doc_id
        self._cbuf_used = 0
        values = (name, set_code, set_name, collector_number, sku_code, barcode, cert_number)
        nf[0] = 0
        for k in range(NFIELDS):
            nt = self._tokenize_field(values[k], _FIELD_NAMES[k], nt)
            nf[k + 1] = nt
        g = self._attr(game, "game")
        co = self._attr(condition, "condition")
        fi = self._attr(finish, "finish")
        if not (type(on_hand) is int and -C_MAX_ON_HAND <= on_hand <= C_MAX_ON_HAND):
            on_hand = _ref._check_int(on_hand, "on_hand", -MAX_ON_HAND, MAX_ON_HAND)
        oh = on_hand
        if not (type(popularity) is int and 0 <= popularity <= C_MAX_POP):
            popularity = _ref._check_int(popularity, "popularity", 0, MAX_POPULARITY)
        po = popularity
        # intern; dedupe through token stamps
        _grow(<void**>&self.ids, &self.ids_cap, 2 * nt + 1, sizeof(int32_t))
        for k in range(nt):
            self.ids[k] = self._intern(self.cbuf + self.ts_start[k], self.ts_len[k])
        self.tgen += 1
        if self.tgen == 0:
            memset(self.tok_stamp, 0, self.ntok * sizeof(uint32_t))
            self.tgen = 1
        nd = 0
        for k in range(nt):  # distinct non-numeric tokens first, then the numeric ones
            t = self.ids[k]
            if not self.tok_num[t] and self.tok_stamp[t] != self.tgen:
                self.tok_stamp[t] = self.tgen
                self.ids[nt + nd] = t
                nd += 1
        na = nd
        for k in range(nt):
            t = self.ids[k]
            if self.tok_stamp[t] != self.tgen:
                self.tok_stamp[t] = self.tgen
                self.ids[nt + nd] = t
                nd += 1
        total = HDR + 2 * nd + <int32_t>(nf[1] - nf[0]) + <int32_t>(nf[NFIELDS] - nf[4])
        td = <int32_t*>malloc(total * sizeof(int32_t))
        if td == NULL:
            raise MemoryError()
        td[0] = nd
        td[1] = <int32_t>(nf[1] - nf[0])
        td[2] = <int32_t>(nf[5] - nf[4])
        td[3] = <int32_t>(nf[6] - nf[5])
        td[4] = <int32_t>(nf[7] - nf[6])
        td[5] = na
        memcpy(td + HDR + 2 * nd, self.ids, (nf[1] - nf[0]) * sizeof(int32_t))
        memcpy(td + HDR + 2 * nd + td[1], self.ids + nf[4], (nf[7] - nf[4]) * sizeof(int32_t))
        s = self._slot_of(d)
        if s < 0:
            s = self._new_slot(d)
        old = self.tokdata[s]
        if self.doc[s].alive and old != NULL:
            self._count_codes(old, -1)
        self._count_codes(td, 1)
        same = False
        if self.doc[s].alive and old != NULL and old[0] == nd:
            same = True
            old_nd = old[0]
            for j in range(old_nd):
                if self.tok_stamp[old[HDR + j]] != self.tgen:
                    same = False
                    break
        if same:  # same token set: keep the postings, reuse the old order and positions
            memcpy(td + HDR, old + HDR, 2 * nd * sizeof(int32_t))
            free(old)
            self.tokdata[s] = td
        else:
            memcpy(td + HDR, self.ids + nt, nd * sizeof(int32_t))
            if self.doc[s].alive:
                self._unlink(s)
            free(old)
            self.tokdata[s] = td
            self._link(s)
        if not self.doc[s].alive:
            self.doc[s].alive = 1
            self.nlive += 1
        self.doc[s].game = g
        self.doc[s].cond = co
        self.doc[s].fin = fi
        self.dbase[s] = _base(oh, po, d)
        self.dname[s] = ((<uint32_t>self.ids[0]) << 1 | (nf[1] == 1)) if nf[1] > 0 else NO_NAME
        self.doc[s].flags = (1 if nf[1] == 1 else 0) | (
            2 if nf[5] - nf[4] == 1 or nf[6] - nf[5] == 1 or nf[7] - nf[6] == 1 else 0)

    def update(self, doc_id, *args, **kwargs):
        """Replace an existing document (KeyError if absent); same arguments as :meth:`add`."""
        self._live_slot(doc_id)
        self.add(doc_id, *args, **kwargs)

    cdef int32_t _live_slot(self, object doc_id) except -1:
        if not (type(doc_id) is int and 0 <= doc_id <= C_MAX_DOC_ID):
            doc_id = _ref._check_doc_id(doc_id)
        cdef int32_t s = self._slot_of(<int32_t>doc_id)
        if s < 0 or not self.doc[s].alive:
            raise KeyError(doc_id)
        return s

    def remove(self, doc_id):
        """Drop a document; False if it was not there."""
        if not (type(doc_id) is int and 0 <= doc_id <= C_MAX_DOC_ID):
            doc_id = _ref._check_doc_id(doc_id)
        cdef int32_t s = self._slot_of(<int32_t>doc_id)
        if s < 0 or not self.doc[s].alive:
            return False
        self._unlink(s)
        self._count_codes(self.tokdata[s], -1)
        free(self.tokdata[s])
        self.tokdata[s] = NULL
        self.doc[s].alive = 0
        self.nlive -= 1
        return True

    def set_stock(self, doc_id, on_hand):
        """Change a document's on-hand (KeyError if absent)."""
        if not (type(on_hand) is int and -C_MAX_ON_HAND <= on_hand <= C_MAX_ON_HAND):
            on_hand = _ref._check_int(on_hand, "on_hand", -MAX_ON_HAND, MAX_ON_HAND)
        cdef int32_t s = self._live_slot(doc_id)
        cdef uint64_t b = self.dbase[s]
        self.dbase[s] = (b & ~(<uint64_t>1 << 60)) | ((<uint64_t>(<int64_t>on_hand <= 0)) << 60)

    def set_popularity(self, doc_id, popularity):
        """Change a document's popularity (KeyError if absent)."""
        if not (type(popularity) is int and 0 <= popularity <= C_MAX_POP):
            popularity = _ref._check_int(popularity, "popularity", 0, MAX_POPULARITY)
        cdef int32_t s = self._live_slot(doc_id)
        cdef uint64_t b = self.dbase[s]
        self.dbase[s] = (b & ~((<uint64_t>0x3FFFFFFF) << 30)) | ((<uint64_t>(C_MAX_POP - <int64_t>popularity)) << 30)

    def __len__(self):
        return self.nlive

    def __contains__(self, doc_id):
        if type(doc_id) is bool or not isinstance(doc_id, int) or not 0 <= doc_id <= C_MAX_DOC_ID:
            return False
        cdef int32_t s = self._slot_of(<int32_t>doc_id)
        return s >= 0 and self.doc[s].alive != 0

    # ----------------------------------------------------------------------------- queries

    cdef uint32_t _fresh_token_stamp(self) noexcept:
        self.tgen += 1
        if self.tgen == 0:
            memset(self.tok_stamp, 0, self.ntok * sizeof(uint32_t))
            self.tgen = 1
        return self.tgen

    cdef int64_t _prefix_range(self, const char* w, int32_t m, int64_t* first) noexcept:
        """Number of sorted tokens starting with ``w``; ``first`` gets the index of the first."""
        cdef int64_t lo = 0, hi = self.n_sorted, mid, start
        cdef int32_t t, L
        cdef int r
        while lo < hi:  # lower bound of w
            mid = (lo + hi) >> 1
            t = self.sorted_ids[mid]
            L = self.tok_len[t]
            r = memcmp(self.arena + self.tok_off[t], w, <size_t>(L if L < m else m))
            if r < 0 or (r == 0 and L < m):
                lo = mid + 1
            else:
                hi = mid
        start = lo
        hi = self.n_sorted
        while lo < hi:  # first token at or after start that does not start with w
            mid = (lo + hi) >> 1
            t = self.sorted_ids[mid]
            if self.tok_len[t] >= m and memcmp(self.arena + self.tok_off[t], w, m) == 0:
                lo = mid + 1
            else:
                hi = mid
        first[0] = start
        return lo - start

    cdef int64_t _word_list(self, const char* w, int32_t m, int64_t at, int64_t cap) except -2:
        """Append (token, class) for every token ``w`` matches to the word lists, best class first.

        Returns the new end, or -1 (nothing appended) when the prefix range alone holds more than
        ``cap`` tokens: such a broad word is cheaper to test per candidate (see ``_classify``).
        """
        cdef int64_t i, pos, r, a, b, mid, first, n
        cdef uint64_t wmask
        cdef int32_t t, L, k
        cdef uint32_t S
        cdef bint numeric_word = _is_numeric(w, m)
        n = self._prefix_range(w, m, &first)
        if n > cap:
            return -1
        S = self._fresh_token_stamp()
        for i in range(first, first + n):
            at = self._wl_add(at, self.sorted_ids[i], T_WORD_PREFIX, S)
        for i in range(self.n_sorted, self.ntok):
            t = <int32_t>i
            if self.tok_len[t] >= m and memcmp(self.arena + self.tok_off[t], w, m) == 0:
                at = self._wl_add(at, t, T_WORD_PREFIX, S)
        # substring over non-numeric tokens: one sweep of the back-to-back buffer
        if m >= C_MIN_SUB and self.nalpha:
            pos = 0
            while pos < self.abuf_n:
                r = sk_find(self.abuf + pos, self.abuf_n - pos, w, m)
                if r < 0:
                    break
                r += pos
                a = 0
                b = self.nalpha  # the token holding byte r: last aoff <= r
                while b - a > 1:
                    mid = (a + b) >> 1
                    if self.aoff[mid] <= r:
                        a = mid
                    else:
                        b = mid
                t = self.aid[a]
                if self.tok_stamp[t] != S:
                    at = self._wl_add(at, t, T_SUBSTRING, S)
                pos = self.aoff[a] + self.tok_len[t] + 1
        # typos over non-numeric tokens
        k = 0 if numeric_word else edit_budget(m)
        if k and m <= SK_MAX_FUZZY:
            wmask = sk_mask(w, m)
            for i in range(self.nalpha):
                # length from the separators (sequential reads); byte-set prefilter before the DP
                L = <int32_t>((self.aoff[i + 1] if i + 1 < self.nalpha else self.abuf_n) - self.aoff[i] - 1)
                if L - m > k or m - L > k or sk_popcount(self.amask[i] ^ wmask) > 2 * k:
                    continue
                t = self.aid[i]
                if self.tok_stamp[t] == S:
                    continue
                if sk_osa_within(<const unsigned char*>w, m,
                                 <const unsigned char*>(self.abuf + self.aoff[i]), L, k) <= k:
                    at = self._wl_add(at, t, T_FUZZY, S)
        return at

    cdef inline int32_t _classify(self, int32_t t, const char* w, int32_t m, int32_t k) noexcept:
        """Class of token ``t`` for word ``w`` (``k``: its edit budget), NOCLASS if none."""
        cdef int32_t L = self.tok_len[t]
        cdef const char* tp = self.arena + self.tok_off[t]
        if L >= m and memcmp(tp, w, m) == 0:
            return T_WORD_PREFIX
        if self.tok_num[t]:
            return NOCLASS
        if m >= C_MIN_SUB and L > m and sk_find(tp + 1, L - 1, w, m) >= 0:
            return T_SUBSTRING
        if k and m <= SK_MAX_FUZZY and L - m <= k and m - L <= k and sk_popcount(
            sk_mask(tp, L) ^ sk_mask(w, m)
        ) <= 2 * k and sk_osa_within(<const unsigned char*>w, m, <const unsigned char*>tp, L, k) <= k:
            return T_FUZZY
        return NOCLASS

    cdef inline int64_t _wl_add(self, int64_t at, int32_t t, uint8_t cls, uint32_t S) except -1:
        self.tok_stamp[t] = S
        self.tok_class[t] = cls
        if self.post_n[t] == 0:
            return at
        if at + 1 > self.wl_cap:
            _grow(<void**>&self.wl_tid, &self.wl_cap, at + 1, sizeof(int32_t))
            self.wl_cls = <uint8_t*>realloc(self.wl_cls, self.wl_cap)
            if self.wl_cls == NULL:
                raise MemoryError()
        self.wl_tid[at] = t
        self.wl_cls[at] = cls
        return at + 1

    cdef inline bint _passes(self, int32_t s, int32_t g, int32_t co, int32_t fi, bint stock) noexcept:
        cdef Doc* dp = &self.doc[s]
        return ((g == 0 or dp.game == g) and (co == 0 or dp.cond == co)
                and (fi == 0 or dp.fin == fi) and (not stock or not (self.dbase[s] >> 60) & 1))

    def query(self, text, *, game=None, condition=None, finish=None, in_stock=False, limit=20, offset=0):
        """``(number of matches, doc ids [offset:offset + limit])`` in rank order."""
        cdef list words = _ref.query_words(text)
        cdef int32_t g = 0, co = 0, fi = 0
        cdef int64_t lim, off
        cdef bint stock
        if game is not None or condition is not None or finish is not None:
            _ref._check_attr(game, "game")
            _ref._check_attr(condition, "condition")
            _ref._check_attr(finish, "finish")
        if not (type(limit) is int and 1 <= limit <= C_MAX_LIMIT):
            limit = _ref._check_int(limit, "limit", 1, MAX_LIMIT)
        if not (type(offset) is int and 0 <= offset <= C_MAX_DOC_ID):
            offset = _ref._check_int(offset, "offset", 0, MAX_DOC_ID)
        lim = limit
        off = offset
        stock = bool(in_stock)
        for value, slot in ((game, 0), (condition, 1), (finish, 2)):
            if value is None:
                continue
            a = self.attr_ids.get(str(value))
            if a is None:
                return 0, []
            if slot == 0:
                g = a
            elif slot == 1:
                co = a
            else:
                fi = a
        if self.ntok - self.n_sorted > TAIL_MERGE:
            self._merge_sorted()
        return self._run(words, g, co, fi, stock, lim, off)

    cdef tuple _run(self, list words, int32_t g, int32_t co, int32_t fi, bint stock, int64_t lim, int64_t off):
        cdef int64_t nw = len(words), i, j, q, x, ncand = 0, nmatch, want, n
        cdef int64_t wstart[17]
        cdef int64_t wend[17]
        cdef int64_t wcost[17]
        cdef int32_t order[16]
        cdef int32_t qid[16]
        cdef const char* wp[16]
        cdef int32_t wm[16]
        cdef int32_t wk[16]
        cdef int64_t at = 0, end
        cdef int32_t t, s, c, best, nd
        cdef int32_t* td
        cdef int32_t* pl
        cdef int32_t pn
        cdef uint32_t S
        cdef uint64_t bit
        cdef uint64_t* A  # current candidates
        cdef uint64_t* B  # scratch: deduplication in the first walk, "matched" in later walks
        cdef uint64_t* tmp
        cdef uint8_t* dtier = self.dtier
        cdef int64_t nwords = (self.nslot + 63) >> 6
        cdef bint filtered = g != 0 or co != 0 or fi != 0 or stock
        cdef bint whole, wnum
        cdef Doc* dp
        cdef list enc = [(<str>w).encode("utf-8") for w in words]
        if nw == 0:
            _grow(<void**>&self.cand, &self.cand_cap, self.nslot + 1, sizeof(int32_t))
            for i in range(self.nslot):
                dp = &self.doc[i]
                if dp.alive and self._passes(<int32_t>i, g, co, fi, stock):
                    dtier[i] = T_WORD_PREFIX
                    self.cand[ncand] = <int32_t>i
                    ncand += 1
            return self._rank(ncand, lim, off)
        # per word: its matching tokens (capped for broad words) and their total postings
        for i in range(nw):
            wp[i] = PyBytes_AS_STRING(enc[i])
            wm[i] = <int32_t>PyBytes_GET_SIZE(enc[i])
            wk[i] = 0 if _is_numeric(wp[i], wm[i]) else edit_budget(wm[i])
            wstart[i] = at
            end = self._word_list(wp[i], wm[i], at, LIST_CAP)
            if end < 0:  # broad word
                wend[i] = -1
                wcost[i] = INT64_MAX
                continue
            wend[i] = end
            at = end
            wcost[i] = 0
            for j in range(wstart[i], end):
                wcost[i] += self.post_n[self.wl_tid[j]]
            if wcost[i] == 0:
                return 0, []
        for i in range(nw):
            order[i] = <int32_t>i
        for i in range(1, nw):  # cheapest first (the result does not depend on the order)
            x = order[i]
            j = i - 1
            while j >= 0 and wcost[order[j]] > wcost[x]:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = <int32_t>x
        i = order[0]
        if wend[i] < 0:  # every word is broad: list the first one in full
            wstart[i] = at
            wend[i] = self._word_list(wp[i], wm[i], at, INT64_MAX)
            at = wend[i]
        if nw == 1:
            return self._single(wstart[i], wend[i], g, co, fi, stock, lim, off, wp[0], wm[0])
        # Candidates live in bitmap A (and the list cand), their tier in dtier: per posting the
        # walks below touch only cache-resident bits, and per candidate one byte of dtier.
        _grow(<void**>&self.seen, &self.seen_cap, nwords + 1, sizeof(uint64_t))
        _grow(<void**>&self.seen2, &self.seen2_cap, nwords + 1, sizeof(uint64_t))
        A = self.seen
        B = self.seen2
        memset(A, 0, <size_t>nwords * sizeof(uint64_t))
        memset(B, 0, <size_t>nwords * sizeof(uint64_t))
        # first word: walk its postings
        for j in range(wstart[i], wend[i]):
            t = self.wl_tid[j]
            c = self.wl_cls[j]
            pl = self.post[t]
            pn = self.post_n[t]
            _grow(<void**>&self.cand, &self.cand_cap, ncand + pn, sizeof(int32_t))
            for x in range(pn):
                s = pl[x]
                bit = (<uint64_t>1) << (s & 63)
                if B[s >> 6] & bit:
                    continue
                B[s >> 6] |= bit
                if filtered and not self._passes(s, g, co, fi, stock):
                    continue
                A[s >> 6] |= bit
                dtier[s] = <uint8_t>c
                self.cand[ncand] = s
                ncand += 1
        for q in range(1, nw):
            if ncand == 0:
                return 0, []
            i = order[q]
            if wend[i] < 0 or ncand * 16 < wcost[i]:
                # few candidates (or a broad word): classify each candidate's own tokens, caching
                # the class per token for this word
                S = self._fresh_token_stamp()
                wnum = _is_numeric(wp[i], wm[i])
                nmatch = 0
                for x in range(ncand):
                    # two-level prefetch: the block pointer far ahead, the block nearer
                    if x + 2 * PREFETCH_AHEAD < ncand:
                        SK_PREFETCH(&self.tokdata[self.cand[x + 2 * PREFETCH_AHEAD]])
                    if x + PREFETCH_AHEAD < ncand:
                        SK_PREFETCH(self.tokdata[self.cand[x + PREFETCH_AHEAD]])
                    s = self.cand[x]
                    td = self.tokdata[s]
                    nd = td[0] if wnum else td[5]  # a word with a letter: non-numeric tokens only
                    best = NOCLASS
                    for j in range(nd):
                        t = td[HDR + j]
                        if self.tok_stamp[t] != S:
                            self.tok_stamp[t] = S
                            self.tok_class[t] = <uint8_t>self._classify(t, wp[i], wm[i], wk[i])
                        if self.tok_class[t] < best:
                            best = self.tok_class[t]
                    if best < NOCLASS:
                        if best > dtier[s]:
                            dtier[s] = <uint8_t>best
                        self.cand[nmatch] = s
                        nmatch += 1
                    else:
                        A[s >> 6] &= ~((<uint64_t>1) << (s & 63))
                ncand = nmatch
            else:
                # walk the word's postings (best class first), marking candidates in B
                memset(B, 0, <size_t>nwords * sizeof(uint64_t))
                for j in range(wstart[i], wend[i]):
                    t = self.wl_tid[j]
                    c = self.wl_cls[j]
                    pl = self.post[t]
                    pn = self.post_n[t]
                    for x in range(pn):
                        s = pl[x]
                        bit = (<uint64_t>1) << (s & 63)
                        if (A[s >> 6] & bit) and not (B[s >> 6] & bit):
                            B[s >> 6] |= bit
                            if c > dtier[s]:
                                dtier[s] = <uint8_t>c
                nmatch = 0
                for x in range(ncand):
                    s = self.cand[x]
                    if B[s >> 6] & ((<uint64_t>1) << (s & 63)):
                        self.cand[nmatch] = s
                        nmatch += 1
                ncand = nmatch
                tmp = A  # the matched set is the new candidate set
                A = B
                B = tmp
        if ncand == 0:
            return 0, []
        # whole-query tiers: exact code, exact name, name prefix. Each needs every word but the
        # last to be a token as it stands (name prefix: the name's leading tokens equal them), so
        # when one is not, no candidate's token block needs reading.
        whole = True
        for i in range(nw):
            qid[i] = self._find_token(wp[i], wm[i], sk_hash(wp[i], wm[i]))
            if qid[i] < 0 and i < nw - 1:
                whole = False
        if whole:
            for x in range(ncand):
                if x + 2 * PREFETCH_AHEAD < ncand:
                    SK_PREFETCH(&self.tokdata[self.cand[x + 2 * PREFETCH_AHEAD]])
                if x + PREFETCH_AHEAD < ncand:
                    SK_PREFETCH(self.tokdata[self.cand[x + PREFETCH_AHEAD]])
                s = self.cand[x]
                c = self._whole_tier(s, nw, qid, wp[nw - 1], wm[nw - 1])
                if c < dtier[s]:
                    dtier[s] = <uint8_t>c
        return self._rank(ncand, lim, off)

    cdef tuple _single(self, int64_t start, int64_t end, int32_t g, int32_t co, int32_t fi, bint stock,
                       int64_t lim, int64_t off, const char* w, int32_t m):
        """One-word query: count, filter and keep the top keys in one pass over the postings.

        Memory-bound (a million-SKU prefix can reach 100k+ postings), so per posting it touches
        a bit in ``seen`` (slots already counted: 1 bit per slot, cache-resident), the 8-byte rank
        key in ``dbase`` and, for prefix matches, the 4-byte ``dname``; a document's ``Doc`` only
        under a filter, and its token block (a further cache miss) almost never. Those loads are
        prefetched a few postings ahead.

        Whole-query tiers from those arrays: exact code / exact name need the word itself as a
        token, so that token's postings go first. Exact name is ``dname`` being that token as the
        whole name; exact code gets the full check (``_whole_tier``), but only when some document
        has the word as a whole code field (``tok_code1``), which a product-name word almost never
        is. Every other document can at most be a name prefix: whether its name's first token is
        among this word's prefix matches (stamped by ``_word_list``). Documents that could not
        enter the full heap even as a name prefix skip that check.
        """
        cdef int64_t want = off + lim, nheap = 0, total = 0, j, x, i, pass_, nwords
        cdef int32_t t, c, s, pn, wt, n0
        cdef int32_t* pl
        cdef int32_t qid = self._find_token(w, m, sk_hash(w, m))
        cdef uint32_t S = self.tgen, dn, exact_name
        cdef uint64_t key, b, bit
        cdef uint64_t* seen
        cdef uint64_t* dbase = self.dbase
        cdef uint32_t* dname = self.dname
        cdef bint filtered = g != 0 or co != 0 or fi != 0 or stock
        cdef bint code_possible = qid >= 0 and self.tok_code1[qid] > 0
        cdef list out = []
        exact_name = ((<uint32_t>qid) << 1 | 1) if qid >= 0 else NO_NAME
        nwords = (self.nslot + 63) >> 6
        _grow(<void**>&self.seen, &self.seen_cap, nwords + 1, sizeof(uint64_t))
        seen = self.seen
        memset(seen, 0, <size_t>nwords * sizeof(uint64_t))
        _grow(<void**>&self.keys, &self.keys_cap, want + 1, sizeof(uint64_t))
        for pass_ in range(2):
            for j in range(start, end):
                t = self.wl_tid[j]
                if (t == qid) != (pass_ == 0):
                    continue
                c = self.wl_cls[j]
                pl = self.post[t]
                pn = self.post_n[t]
                for x in range(pn):
                    if x + PREFETCH_AHEAD < pn:
                        SK_PREFETCH(&dbase[pl[x + PREFETCH_AHEAD]])
                        SK_PREFETCH(&dname[pl[x + PREFETCH_AHEAD]])
                    s = pl[x]
                    bit = (<uint64_t>1) << (s & 63)
                    if seen[s >> 6] & bit:
                        continue
                    seen[s >> 6] |= bit
                    if filtered and not self._passes(s, g, co, fi, stock):
                        continue
                    total += 1
                    b = dbase[s]
                    wt = c
                    if c == T_WORD_PREFIX:
                        if pass_ == 0 and code_possible and (self.doc[s].flags & 2):
                            # some document has the word as a whole code field: the full check
                            wt = self._whole_tier(s, 1, &qid, w, m)
                            if c < wt:
                                wt = c
                        else:
                            dn = dname[s]
                            if pass_ == 0 and dn == exact_name:
                                wt = T_NAME_EXACT  # the name is exactly the word (no code field is)
                            elif nheap == want and ((<uint64_t>T_NAME_PREFIX) << 61 | b) >= self.keys[0]:
                                continue  # cannot enter the full heap even as a name prefix
                            elif dn != NO_NAME:
                                n0 = <int32_t>(dn >> 1)
                                if self.tok_stamp[n0] == S and self.tok_class[n0] == T_WORD_PREFIX:
                                    wt = T_NAME_PREFIX
                    key = ((<uint64_t>wt) << 61) | b
                    if nheap < want:
                        self.keys[nheap] = key
                        _heap_sift_up(self.keys, nheap)
                        nheap += 1
                    elif key < self.keys[0]:
                        self.keys[0] = key
                        _heap_sift_down(self.keys, nheap, 0)
        qsort(self.keys, nheap, sizeof(uint64_t), _cmp_u64)
        for i in range(off, nheap):
            out.append(<int32_t>(self.keys[i] & 0x3FFFFFFF))
        return total, out

    cdef int32_t _whole_tier(self, int32_t s, int64_t nw, int32_t* qid, const char* last, int32_t lm) noexcept:
        cdef int32_t* td = self.tokdata[s]
        cdef int32_t nd = td[0], nn = td[1]
        cdef int32_t* seq = td + HDR + 2 * nd + nn
        cdef int32_t f, fl, i, t
        cdef bint all_known = True
        for i in range(nw):
            if qid[i] < 0:
                all_known = False
                break
        if all_known:
            for f in range(3):
                fl = td[2 + f]
                if fl == nw and memcmp(seq, qid, nw * sizeof(int32_t)) == 0:
                    return T_EXACT_CODE
                seq += fl
            if nn == nw and memcmp(td + HDR + 2 * nd, qid, nw * sizeof(int32_t)) == 0:
                return T_NAME_EXACT
        if nn < nw:
            return NOCLASS
        seq = td + HDR + 2 * nd
        for i in range(nw - 1):
            if qid[i] != seq[i]:
                return NOCLASS
        t = seq[nw - 1]
        if self.tok_len[t] >= lm and memcmp(self.arena + self.tok_off[t], last, lm) == 0:
            return T_NAME_PREFIX
        return NOCLASS

    cdef tuple _rank(self, int64_t ncand, int64_t lim, int64_t off):
        cdef int64_t want = off + lim, i, n
        cdef int32_t s
        cdef uint64_t key
        cdef list out = []
        if off >= ncand:
            return ncand, out
        if want > ncand:
            want = ncand
        _grow(<void**>&self.keys, &self.keys_cap, (ncand if want * 4 >= ncand else want) + 1, sizeof(uint64_t))
        if want * 4 >= ncand:
            for i in range(ncand):
                if i + PREFETCH_AHEAD < ncand:
                    self._prefetch_key(self.cand[i + PREFETCH_AHEAD])
                self.keys[i] = self._key(self.cand[i])
            qsort(self.keys, ncand, sizeof(uint64_t), _cmp_u64)
        else:
            n = 0
            for i in range(ncand):
                if i + PREFETCH_AHEAD < ncand:
                    self._prefetch_key(self.cand[i + PREFETCH_AHEAD])
                key = self._key(self.cand[i])
                if n < want:
                    self.keys[n] = key
                    _heap_sift_up(self.keys, n)
                    n += 1
                elif key < self.keys[0]:
                    self.keys[0] = key
                    _heap_sift_down(self.keys, n, 0)
            qsort(self.keys, n, sizeof(uint64_t), _cmp_u64)
        for i in range(off, want):
            out.append(<int32_t>(self.keys[i] & 0x3FFFFFFF))
        return ncand, out

    cdef inline void _prefetch_key(self, int32_t s) noexcept:
        SK_PREFETCH(&self.dtier[s])
        SK_PREFETCH(&self.dbase[s])

    cdef inline uint64_t _key(self, int32_t s) noexcept:
        return ((<uint64_t>self.dtier[s]) << 61) | self.dbase[s]
