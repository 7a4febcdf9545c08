/* The CLIP pre-tokenizer (internal): a hand-written scanner equivalent to findall of
 *
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *
 * with IGNORECASE, over lower-cased text (where IGNORECASE only lets "'ſ" match 's). */
#ifndef SDC_CLIP_TOKENIZER_SPLIT_H
#define SDC_CLIP_TOKENIZER_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sdc_piece_kind {
    SDC_PIECE_WORD, /* goes through BPE */
    SDC_PIECE_BOS,  /* the literal <|startoftext|> */
    SDC_PIECE_EOS,  /* the literal <|endoftext|> */
} sdc_piece_kind;

/* Finds the next piece at or after *pos in s[0..n): sets [*start, *end) and *kind and
 * advances *pos past it. False when only whitespace remains. */
bool sdc_clip_next_piece(const int32_t *s, size_t n, size_t *pos, size_t *start, size_t *end,
                         sdc_piece_kind *kind);

#endif
