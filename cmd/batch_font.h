/* A 5x7 bitmap font of printable ASCII for the captions of `sdc batch --grid`. Each glyph
 * sits in a 6x9 cell (one column and two rows of spacing); `scale` repeats every pixel. */
#ifndef SDC_CMD_BATCH_FONT_H
#define SDC_CMD_BATCH_FONT_H

#include <stdint.h>

#include "image/image.h"

#define SDC_FONT_ADVANCE 6 /* pixels per character at scale 1 */
#define SDC_FONT_LINE 9    /* pixels per line at scale 1 */

/* Characters of UTF-8 `text` as drawn: one per code point, '?' for anything not ASCII. */
int sdc_font_length(const char *text);

/* Draws `text` with its top-left corner at (x, y) in an RGB image, clipped to the image.
 * Returns the number of characters drawn. */
int sdc_font_draw(sdc_image *img, int x, int y, int scale, const char *text,
                  const uint8_t rgb[3]);

#endif
