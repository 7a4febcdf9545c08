/* sdc_geglu against a plain double-precision loop. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "ops/geglu.h"

Test(geglu, matches_naive_loop)
{
    enum { ROWS = 37, N = 19 };
    float x[ROWS * 2 * N], y[ROWS * N];
    unsigned seed = 7;
    for (int i = 0; i < ROWS * 2 * N; i++)
        x[i] = (float)(rand_r(&seed) % 4001 - 2000) / 400.0f;
    sdc_geglu(y, x, ROWS, N);
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < N; i++) {
            double a = x[r * 2 * N + i], g = x[r * 2 * N + N + i];
            double want = a * 0.5 * g * (1.0 + erf(g / sqrt(2.0)));
            cr_expect(fabs(y[r * N + i] - want) <= 1e-5 * (1.0 + fabs(want)),
                      "row %d col %d: %g vs %g", r, i, y[r * N + i], want);
        }
}
