/* Prompt schedules (prompt_schedule.h): a recursive-descent reading of A1111's grammar
 *
 *   start:      (prompt | stray bracket or colon)*
 *   prompt:     (emphasized | scheduled | alternate | plain)*
 *   emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
 *   scheduled:  "[" [prompt ":"] prompt ":" [ws] NUMBER [ws] "]"
 *   alternate:  "[" prompt ("|" [prompt])+ "]"
 *   plain:      ([^\[]():|] | \ followed by any character but a newline)+
 *
 * Inside a bracket only bracket constructs may appear, so a construct either parses as a
 * whole or fails; at the top level a failed construct's opening bracket is plain text and
 * the scan goes on after it. Where the grammar reads a bracket either way (a construct
 * followed directly by a stray bracket or colon, "[x:5]]"), A1111's Earley parser picks by
 * Python's hash seed, i.e. at random per process; this always takes the construct. The result of the construct starting at each byte
 * is remembered, which keeps the work linear in the prompt's length. */
#include "clip/prompt_schedule.h"

#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clip/tokenizer_text.h"
#include "ops/error.h"

/* ---- the tree ------------------------------------------------------------------------ */

typedef enum node_kind { NODE_TEXT, NODE_SEQ, NODE_SCHED, NODE_ALT } node_kind;

/* Nodes live in one array and refer to each other by index (-1: none). */
typedef struct node {
    node_kind kind;
    size_t start, len; /* TEXT: the source bytes; SCHED: the NUMBER's bytes */
    int first, last;   /* SEQ / ALT: children (ALT: one SEQ per option) */
    int next;          /* the next sibling */
    int before, after; /* SCHED: SEQs (before -1 in the [to:when] form) */
    int when;          /* SCHED: the switch step, resolved by collect() */
} node;

enum { MEMO_UNKNOWN = 0, MEMO_FAIL = -1 };

typedef struct parser {
    const char *s;
    size_t n;
    node *nodes;
    int count, cap;
    int *memo_end;  /* [n] end + 1 of the construct at each byte, MEMO_FAIL, MEMO_UNKNOWN */
    int *memo_node; /* [n] its node */
    int depth;
    bool rejected; /* the grammar does not accept the prompt */
    bool nomem;
} parser;

static int new_node(parser *p, node_kind kind)
{
    if (p->count == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        node *nodes = realloc(p->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            p->nomem = true;
            return -1;
        }
        p->nodes = nodes;
        p->cap = cap;
    }
    p->nodes[p->count] = (node){kind, 0, 0, -1, -1, -1, -1, -1, 0};
    return p->count++;
}

static void add_child(parser *p, int parent, int child)
{
    node *par = &p->nodes[parent];
    p->nodes[child].next = -1;
    if (par->last < 0)
        par->first = child;
    else
        p->nodes[par->last].next = child;
    par->last = child;
}

/* Appends source bytes [start, start + len) to seq, extending its last text node when
 * the bytes follow on. */
static bool add_text(parser *p, int seq, size_t start, size_t len)
{
    int last = p->nodes[seq].last;
    if (last >= 0 && p->nodes[last].kind == NODE_TEXT &&
        p->nodes[last].start + p->nodes[last].len == start) {
        p->nodes[last].len += len;
        return true;
    }
    int t = new_node(p, NODE_TEXT);
    if (t < 0)
        return false;
    p->nodes[t].start = start;
    p->nodes[t].len = len;
    add_child(p, seq, t);
    return true;
}

/* ---- the grammar --------------------------------------------------------------------- */

static bool is_space_at(const parser *p, size_t i, size_t *len)
{
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p->s + i,
                                          (utf8proc_ssize_t)(p->n - i), &c);
    *len = k > 0 ? (size_t)k : 1;
    return k > 0 && sdc_uc_isspace(c);
}

static size_t skip_space(const parser *p, size_t i)
{
    size_t len;
    while (i < p->n && is_space_at(p, i, &len))
        i += len;
    return i;
}

static size_t skip_digits(const parser *p, size_t i)
{
    while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
        i++;
    return i;
}

/* lark's SIGNED_NUMBER at i: [+-] (INT | INT "." INT? | "." INT) (("e"|"E") [+-] INT)?;
 * its end, or i when there is none. */
static size_t number_end(const parser *p, size_t i)
{
    size_t j = i < p->n && (p->s[i] == '+' || p->s[i] == '-') ? i + 1 : i;
    size_t int_end = skip_digits(p, j), k = int_end;
    if (k < p->n && p->s[k] == '.') {
        size_t frac_end = skip_digits(p, k + 1);
        if (int_end == j && frac_end == k + 1)
            return i; /* a lone "." */
        k = frac_end;
    } else if (int_end == j) {
        return i;
    }
    if (k < p->n && (p->s[k] == 'e' || p->s[k] == 'E')) {
        size_t e = k + 1 < p->n && (p->s[k + 1] == '+' || p->s[k + 1] == '-') ? k + 2 : k + 1;
        size_t e_end = skip_digits(p, e);
        if (e_end > e)
            k = e_end;
    }
    return k;
}

/* "[ws] NUMBER [ws] ]" at i: the closing bracket's end, or 0; the number's bytes. */
static size_t when_end(const parser *p, size_t i, size_t *num, size_t *num_len)
{
    size_t a = skip_space(p, i), b = number_end(p, a);
    if (b == a)
        return 0;
    size_t c = skip_space(p, b);
    if (c >= p->n || p->s[c] != ']')
        return 0;
    *num = a;
    *num_len = b - a;
    return c + 1;
}

static int construct(parser *p, size_t at, size_t *end);

/* prompt at *i up to one of ":|])" or the end (an empty prompt is fine): a SEQ node, or -1
 * when a bracket inside does not parse or a backslash ends a line or the prompt. */
static int prompt(parser *p, size_t *i)
{
    int seq = new_node(p, NODE_SEQ);
    if (seq < 0)
        return -1;
    while (*i < p->n) {
        char c = p->s[*i];
        if (c == ':' || c == '|' || c == ']' || c == ')')
            break;
        if (c == '[' || c == '(') {
            size_t end;
            int child = construct(p, *i, &end);
            if (child < 0)
                return -1;
            add_child(p, seq, child);
            *i = end;
            continue;
        }
        size_t len = 1;
        if (c == '\\') {
            if (*i + 1 >= p->n || p->s[*i + 1] == '\n')
                return -1;
            len = 2;
        }
        if (!add_text(p, seq, *i, len))
            return -1;
        *i += len;
    }
    return seq;
}

/* A SEQ holding the literal byte at `at` (a bracket or colon that emphasis keeps). */
static bool add_literal(parser *p, int seq, size_t at)
{
    return add_text(p, seq, at, 1);
}

/* "(" prompt ")" or "(" prompt ":" prompt ")" at at: the tokens stay text. */
static int paren(parser *p, size_t at, size_t *end)
{
    size_t i = at + 1;
    int seq = new_node(p, NODE_SEQ);
    int a = seq < 0 || !add_literal(p, seq, at) ? -1 : prompt(p, &i);
    if (a < 0)
        return -1;
    add_child(p, seq, a);
    if (i < p->n && p->s[i] == ':') {
        if (!add_literal(p, seq, i))
            return -1;
        i++;
        int b = prompt(p, &i);
        if (b < 0)
            return -1;
        add_child(p, seq, b);
    }
    if (i >= p->n || p->s[i] != ')' || !add_literal(p, seq, i))
        return -1;
    *end = i + 1;
    return seq;
}

/* The options after "[" first: "|" [prompt] ... "]". */
static int alternate(parser *p, int first, size_t i, size_t *end)
{
    int alt = new_node(p, NODE_ALT);
    if (alt < 0)
        return -1;
    add_child(p, alt, first);
    while (i < p->n && p->s[i] == '|') {
        i++;
        int option = prompt(p, &i);
        if (option < 0)
            return -1;
        add_child(p, alt, option);
    }
    if (i >= p->n || p->s[i] != ']')
        return -1;
    *end = i + 1;
    return alt;
}

/* After "[" a ":" at i: "when]" ([to:when], a is `to`) or "b:when]" ([a:b:when]). */
static int scheduled(parser *p, int a, size_t i, size_t *end)
{
    int sched = new_node(p, NODE_SCHED);
    if (sched < 0)
        return -1;
    node *sn = &p->nodes[sched];
    size_t e = when_end(p, i, &sn->start, &sn->len);
    if (e) {
        sn->after = a;
        *end = e;
        return sched;
    }
    int b = prompt(p, &i);
    if (b < 0 || i >= p->n || p->s[i] != ':')
        return -1;
    sn = &p->nodes[sched];
    if (!(e = when_end(p, i + 1, &sn->start, &sn->len)))
        return -1;
    sn->before = a;
    sn->after = b;
    *end = e;
    return sched;
}

static int bracket(parser *p, size_t at, size_t *end)
{
    size_t i = at + 1;
    int a = prompt(p, &i);
    if (a < 0 || i >= p->n)
        return -1;
    if (p->s[i] == '|')
        return alternate(p, a, i, end);
    if (p->s[i] == ':')
        return scheduled(p, a, i + 1, end);
    if (p->s[i] != ']')
        return -1;
    int seq = new_node(p, NODE_SEQ);
    if (seq < 0 || !add_literal(p, seq, at))
        return -1;
    add_child(p, seq, a);
    if (!add_literal(p, seq, i))
        return -1;
    *end = i + 1;
    return seq;
}

/* The construct at `at` ('[' or '('), from the memo when known: its node, or -1. */
static int construct(parser *p, size_t at, size_t *end)
{
    if (p->memo_end[at] == MEMO_FAIL)
        return -1;
    if (p->memo_end[at] != MEMO_UNKNOWN) {
        *end = (size_t)p->memo_end[at] - 1;
        return p->memo_node[at];
    }
    if (p->depth >= SDC_PROMPT_SCHEDULE_MAX_DEPTH) {
        p->rejected = true; /* too deep to follow: the prompt stays as written */
        return -1;
    }
    p->depth++;
    int r = p->s[at] == '[' ? bracket(p, at, end) : paren(p, at, end);
    p->depth--;
    if (p->rejected || p->nomem)
        return -1;
    p->memo_end[at] = r < 0 ? MEMO_FAIL : (int)*end + 1;
    p->memo_node[at] = r;
    return r;
}

/* start: constructs, plain text, and stray brackets or colons. */
static int parse_start(parser *p)
{
    int root = new_node(p, NODE_SEQ);
    size_t i = 0;
    while (root >= 0 && i < p->n && !p->rejected && !p->nomem) {
        char c = p->s[i];
        size_t end, len = 1;
        int child = c == '[' || c == '(' ? construct(p, i, &end) : -1;
        if (child >= 0) {
            add_child(p, root, child);
            i = end;
            continue;
        }
        if (c == '|' || (c == '\\' && (i + 1 >= p->n || p->s[i + 1] == '\n')))
            p->rejected = true;
        if (c == '\\')
            len = 2;
        if (!p->rejected && !add_text(p, root, i, len))
            return -1;
        i += len;
    }
    return p->rejected || p->nomem ? -1 : root;
}

/* ---- steps and texts ----------------------------------------------------------------- */

typedef struct step_rule {
    int steps;          /* of this pass */
    double int_offset;  /* hires pass: the first pass's steps */
    double flt_offset;  /* hires pass: 1.0 */
} step_rule;

/* when = min(steps, int(value)) as A1111 resolves it (int() truncates toward zero). */
static int resolve_when(const parser *p, const node *sn, step_rule rule)
{
    char text[64];
    size_t len = sn->len < sizeof text - 1 ? sn->len : sizeof text - 1;
    memcpy(text, p->s + sn->start, len);
    text[len] = '\0';
    double v = 0;
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale) {
        v = strtod_l(text, NULL, c_locale);
        freelocale(c_locale);
    }
    if (memchr(text, '.', len))
        v = (v - rule.flt_offset) * rule.steps;
    else
        v = v - rule.int_offset;
    if (!(v < rule.steps))
        return rule.steps;
    return v <= -1.0 ? -1 : (int)trunc(v);
}

/* Marks the schedule's switch points in used[1..steps] (every step under an alternation). */
static void collect(parser *p, int at, step_rule rule, bool *used)
{
    for (; at >= 0; at = p->nodes[at].next) {
        node *nd = &p->nodes[at];
        if (nd->kind == NODE_SCHED) {
            nd->when = resolve_when(p, nd, rule);
            if (nd->when >= 1)
                used[nd->when] = true;
            collect(p, nd->before, rule, used);
            collect(p, nd->after, rule, used);
        } else if (nd->kind == NODE_SEQ || nd->kind == NODE_ALT) {
            if (nd->kind == NODE_ALT)
                for (int s = 1; s <= rule.steps; s++)
                    used[s] = true;
            collect(p, nd->first, rule, used);
        }
    }
}

typedef struct text_buf {
    char *s;
    size_t len, cap;
} text_buf;

static bool text_put(text_buf *b, const char *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t)
            return false;
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
    return true;
}

/* The text of the node list at `at` at step `step`. */
static bool render(const parser *p, int at, int step, text_buf *out)
{
    for (; at >= 0; at = p->nodes[at].next) {
        const node *nd = &p->nodes[at];
        bool ok = true;
        if (nd->kind == NODE_TEXT) {
            ok = text_put(out, p->s + nd->start, nd->len);
        } else if (nd->kind == NODE_SEQ) {
            ok = render(p, nd->first, step, out);
        } else if (nd->kind == NODE_SCHED) {
            int part = step <= nd->when ? nd->before : nd->after;
            ok = part < 0 || render(p, p->nodes[part].first, step, out);
        } else {
            int n = 0, option = nd->first;
            for (int o = nd->first; o >= 0; o = p->nodes[o].next)
                n++;
            for (int k = (step - 1) % n; k > 0; k--)
                option = p->nodes[option].next;
            ok = render(p, p->nodes[option].first, step, out);
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---- the public functions ------------------------------------------------------------ */

static sdc_status nomem(void)
{
    return sdc_fail(SDC_ERR_NOMEM, "out of memory scheduling the prompt");
}

static sdc_status add_entry(sdc_prompt_schedule *out, int end_at, char *text)
{
    sdc_prompt_step *steps = realloc(out->steps, (size_t)(out->count + 1) * sizeof *steps);
    if (!steps) {
        free(text);
        return nomem();
    }
    out->steps = steps;
    steps[out->count++] = (sdc_prompt_step){end_at, text};
    return SDC_OK;
}

static sdc_status copy_entry(sdc_prompt_schedule *out, int end_at, const char *s, size_t n)
{
    char *text = malloc(n + 1);
    if (!text)
        return nomem();
    memcpy(text, s, n);
    text[n] = '\0';
    return add_entry(out, end_at, text);
}

/* One entry per switch point of the parsed tree. */
static sdc_status schedule_tree(parser *p, int root, step_rule rule, sdc_prompt_schedule *out)
{
    bool *used = calloc((size_t)rule.steps + 1, sizeof *used);
    if (!used)
        return nomem();
    used[rule.steps] = true;
    collect(p, root, rule, used);
    size_t points = 0;
    for (int s = 1; s <= rule.steps; s++)
        points += used[s];
    sdc_status st = SDC_OK;
    if (points * (p->n + 1) > SDC_PROMPT_SCHEDULE_MAX_BYTES)
        st = sdc_fail(SDC_ERR_ARG, "prompt: a schedule of %zu steps of a %zu-byte prompt is "
                      "more text than sdc holds (%zu MB)", points, p->n,
                      SDC_PROMPT_SCHEDULE_MAX_BYTES >> 20);
    for (int s = 1; s <= rule.steps && st == SDC_OK; s++) {
        if (!used[s])
            continue;
        text_buf b = {0};
        if (!text_put(&b, "", 0) || !render(p, root, s, &b)) {
            free(b.s);
            st = nomem();
        } else {
            st = add_entry(out, s, b.s);
        }
    }
    free(used);
    return st;
}

sdc_status sdc_prompt_schedule_build(const char *prompt_text, int steps, int hires_steps,
                                     sdc_prompt_schedule *out)
{
    *out = (sdc_prompt_schedule){0};
    const char *s = prompt_text ? prompt_text : "";
    if (steps < 1)
        return sdc_fail(SDC_ERR_ARG, "prompt schedule: %d steps", steps);
    step_rule rule = {steps, 0.0, 0.0};
    if (hires_steps > 0)
        rule = (step_rule){hires_steps, (double)steps, 1.0};
    size_t n = strlen(s);
    if (n >= (size_t)1 << 30)
        return sdc_fail(SDC_ERR_ARG, "prompt of %zu bytes", n);
    parser p = {.s = s, .n = n};
    p.memo_end = calloc(n + 1, sizeof *p.memo_end);
    p.memo_node = calloc(n + 1, sizeof *p.memo_node);
    sdc_status st = SDC_OK;
    int root = p.memo_end && p.memo_node ? parse_start(&p) : -1;
    if (p.nomem || !p.memo_end || !p.memo_node)
        st = nomem();
    else if (root < 0) /* rejected: the prompt as written, for every step */
        st = copy_entry(out, rule.steps, s, n);
    else
        st = schedule_tree(&p, root, rule, out);
    free(p.nodes);
    free(p.memo_end);
    free(p.memo_node);
    if (st != SDC_OK)
        sdc_prompt_schedule_free(out);
    return st;
}

void sdc_prompt_schedule_free(sdc_prompt_schedule *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->steps[i].text);
    free(s->steps);
    *s = (sdc_prompt_schedule){0};
}

int sdc_prompt_schedule_index(const sdc_prompt_schedule *s, int step)
{
    for (int i = 0; i < s->count; i++)
        if (step <= s->steps[i].end_at_step)
            return i;
    return 0;
}

const char *sdc_prompt_schedule_at(const sdc_prompt_schedule *s, int step)
{
    return s->count ? s->steps[sdc_prompt_schedule_index(s, step)].text : "";
}
