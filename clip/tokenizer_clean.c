/* basic_clean / whitespace_clean / lower() of the reference tokenizer (tokenizer_clean.h). */
#include "clip/tokenizer_clean.h"

#include <stdbool.h>
#include <utf8proc.h>

#include "clip/tokenizer_html.h"

/* Unicode "Cased": upper, lower or title case letters, including the non-letters that
 * have case mappings (circled letters, small roman numerals). */
static bool is_cased(int32_t c)
{
    int cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT || utf8proc_islower(c) || utf8proc_isupper(c);
}

/* Unicode "Case_Ignorable": marks, format controls, modifiers, and the word-internal
 * punctuation of UAX #29 (MidLetter, MidNumLet, Single_Quote). */
static bool is_case_ignorable(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK: return true;
    default: break;
    }
    switch (c) {
    case 0x0027: case 0x002E: case 0x003A: case 0x00B7: case 0x0387: case 0x055F:
    case 0x05F4: case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13:
    case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A: return true;
    default: return false;
    }
}

/* Python lower-cases U+03A3 to final sigma when it ends a word: a cased letter before it
 * and none after it, skipping case-ignorable characters both ways. */
static bool final_sigma(const int32_t *s, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && is_case_ignorable(s[j - 1]))
        j--;
    if (j == 0 || !is_cased(s[j - 1]))
        return false;
    for (j = i + 1; j < n && is_case_ignorable(s[j]); j++)
        ;
    return j == n || !is_cased(s[j]);
}

sdc_status sdc_text_lower(const sdc_u32 *in, sdc_u32 *out)
{
    out->n = 0;
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        int32_t c = in->cp[i];
        if (c == 0x0130) { /* the one unconditional multi-character lower case */
            st = sdc_u32_push(out, 'i');
            if (!st)
                st = sdc_u32_push(out, 0x0307);
        } else if (c == 0x03A3) {
            st = sdc_u32_push(out, final_sigma(in->cp, in->n, i) ? 0x03C2 : 0x03C3);
        } else {
            st = sdc_u32_push(out, utf8proc_tolower(c));
        }
    }
    return st;
}

/* re.sub(r'\s+', ' ', s).strip(): also covers basic_clean's strip(). */
static sdc_status collapse_whitespace(const sdc_u32 *in, sdc_u32 *out)
{
    out->n = 0;
    sdc_status st = SDC_OK;
    bool pending = false;
    for (size_t i = 0; i < in->n && !st; i++) {
        if (sdc_uc_isspace(in->cp[i])) {
            pending = out->n > 0;
            continue;
        }
        if (pending)
            st = sdc_u32_push(out, ' ');
        pending = false;
        if (!st)
            st = sdc_u32_push(out, in->cp[i]);
    }
    return st;
}

sdc_status sdc_clip_clean(const sdc_u32 *in, sdc_u32 *out)
{
    sdc_u32 a = {0}, b = {0};
    sdc_status st = sdc_ftfy_fix_text(in, &a);
    if (!st)
        st = sdc_html_unescape(a.cp, a.n, &b);
    if (!st) {
        a.n = 0;
        st = sdc_html_unescape(b.cp, b.n, &a);
    }
    if (!st)
        st = collapse_whitespace(&a, &b);
    if (!st)
        st = sdc_text_lower(&b, out);
    sdc_u32_free(&a);
    sdc_u32_free(&b);
    return st;
}
