/* Canny edges as OpenCV's cv2.Canny(image, low, high) computes them (3x3 Sobel, L1 gradient
 * magnitude, no smoothing of its own): the edge picture AUTOMATIC1111's "canny" module and
 * diffusers' ControlNet examples feed a canny ControlNet. */
#ifndef SDC_IMAGE_CANNY_H
#define SDC_IMAGE_CANNY_H

#include <stdint.h>

#include "sdc.h"

/* edges [h, w] = 255 on an edge, else 0, of src [h, w, channels] (1 or 3; with 3 each pixel
 * takes the channel of the largest gradient, the first of tied ones, as OpenCV does on the
 * RGB arrays its ControlNet callers pass):
 *   gradient   Sobel 3x3 with replicated borders, magnitude |dx| + |dy|
 *   thinning   a pixel stays when its magnitude is > low and a maximum across the edge
 *              (direction in four sectors split at 22.5 and 67.5 degrees; > before, >= after
 *              along the row and column, > both ways on the diagonals)
 *   hysteresis pixels > high seed the edges, which grow through 8-connected thin pixels.
 * low and high are swapped when low > high. */
sdc_status sdc_canny(const uint8_t *src, int w, int h, int channels, int low, int high,
                     uint8_t *edges);

#endif
