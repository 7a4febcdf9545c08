#include "clip/tokenizer_split.h"

#include "clip/tokenizer_text.h"

/* Length of the ASCII literal lit at s[0..n) (0 when absent). */
static size_t literal_at(const int32_t *s, size_t n, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++)
        if (k >= n || s[k] != (unsigned char)lit[k])
            return 0;
    return k;
}

/* Length of a contraction ('s 't 're 've 'm 'll 'd) at s[0], or 0. The regex tries them
 * in this order and takes the first that matches. */
static size_t contraction_at(const int32_t *s, size_t n)
{
    static const char *const forms[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    if (n < 2 || s[0] != '\'')
        return 0;
    if (s[1] == 0x017F) /* long s case-folds to s */
        return 2;
    for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
        size_t k = literal_at(s + 1, n - 1, forms[f]);
        if (k)
            return 1 + k;
    }
    return 0;
}

static bool is_other(int32_t c)
{
    return !sdc_uc_isspace(c) && !sdc_uc_isletter(c) && !sdc_uc_isnumber(c);
}

bool sdc_clip_next_piece(const int32_t *s, size_t n, size_t *pos, size_t *start, size_t *end,
                         sdc_piece_kind *kind)
{
    size_t i = *pos;
    while (i < n && sdc_uc_isspace(s[i]))
        i++;
    if (i == n) {
        *pos = n;
        return false;
    }
    size_t k = literal_at(s + i, n - i, "<|startoftext|>");
    *kind = k ? SDC_PIECE_BOS : SDC_PIECE_WORD;
    if (!k && (k = literal_at(s + i, n - i, "<|endoftext|>")))
        *kind = SDC_PIECE_EOS;
    if (!k)
        k = contraction_at(s + i, n - i);
    if (!k) {
        /* a run of letters, one number, or a run of anything else but spaces */
        bool letter = sdc_uc_isletter(s[i]), number = !letter && sdc_uc_isnumber(s[i]);
        for (k = 1; !number && i + k < n; k++)
            if (letter ? !sdc_uc_isletter(s[i + k]) : !is_other(s[i + k]))
                break;
    }
    *start = i;
    *end = i + k;
    *pos = i + k;
    return true;
}
