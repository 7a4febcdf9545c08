/* The 1-D transforms of Winograd F(4x4, 3x3) (ops/winograd.h), written once for any
 * element type WINO_T that has +, -, * and / with float constants: float for the portable
 * path, a 16-lane vector for the AVX-512 one. Each 2-D transform applies its 1-D form to the
 * columns, then to the rows. Include after defining WINO_T; private to ops/winograd*.c. */
#ifndef SDC_OPS_WINOGRAD_MATH_H
#define SDC_OPS_WINOGRAD_MATH_H

/* B^T d for 6 inputs s[0], s[st], ... into o[0], o[ost], ... */
static inline void wino_input_1d(WINO_T *o, int ost, const WINO_T *s, int st)
{
    WINO_T d0 = s[0], d1 = s[st], d2 = s[2 * st], d3 = s[3 * st], d4 = s[4 * st];
    WINO_T d5 = s[5 * st];
    o[0] = 4.0f * d0 - 5.0f * d2 + d4;
    o[ost] = -4.0f * (d1 + d2) + d3 + d4;
    o[2 * ost] = 4.0f * (d1 - d2) - d3 + d4;
    o[3 * ost] = 2.0f * (d3 - d1) - d2 + d4;
    o[4 * ost] = 2.0f * (d1 - d3) - d2 + d4;
    o[5 * ost] = 4.0f * d1 - 5.0f * d3 + d5;
}

/* G g for 3 filter taps. */
static inline void wino_filter_1d(WINO_T *o, int ost, const WINO_T *g, int st)
{
    WINO_T g0 = g[0], g1 = g[st], g2 = g[2 * st];
    o[0] = g0 / 4.0f;
    o[ost] = -(g0 + g1 + g2) / 6.0f;
    o[2 * ost] = -(g0 - g1 + g2) / 6.0f;
    o[3 * ost] = g0 / 24.0f + g1 / 12.0f + g2 / 6.0f;
    o[4 * ost] = g0 / 24.0f - g1 / 12.0f + g2 / 6.0f;
    o[5 * ost] = g2;
}

/* A^T m for 6 transform-domain values. */
static inline void wino_output_1d(WINO_T *o, int ost, const WINO_T *m, int st)
{
    WINO_T m0 = m[0], m1 = m[st], m2 = m[2 * st], m3 = m[3 * st], m4 = m[4 * st];
    WINO_T m5 = m[5 * st];
    WINO_T s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    o[0] = m0 + s12 + s34;
    o[ost] = d12 + 2.0f * d34;
    o[2 * ost] = s12 + 4.0f * s34;
    o[3 * ost] = d12 + 8.0f * d34 + m5;
}

/* u[6][6] = G g[3][3] G^T. */
static inline void wino_filter_2d(WINO_T *u, const WINO_T *g)
{
    WINO_T t[6 * 3];
    for (int j = 0; j < 3; j++)
        wino_filter_1d(t + j, 3, g + j, 3);
    for (int i = 0; i < 6; i++)
        wino_filter_1d(u + i * 6, 1, t + i * 3, 1);
}

/* v[6][6] = B^T d[6][6] B. */
static inline void wino_input_2d(WINO_T *v, const WINO_T *d)
{
    WINO_T t[6 * 6];
    for (int j = 0; j < 6; j++)
        wino_input_1d(t + j, 6, d + j, 6);
    for (int i = 0; i < 6; i++)
        wino_input_1d(v + i * 6, 1, t + i * 6, 1);
}

/* o[4][4] = A^T m[6][6] A. */
static inline void wino_output_2d(WINO_T *o, const WINO_T *m)
{
    WINO_T t[4 * 6];
    for (int j = 0; j < 6; j++)
        wino_output_1d(t + j, 6, m + j, 6);
    for (int i = 0; i < 4; i++)
        wino_output_1d(o + i * 4, 1, t + i * 6, 1);
}

#endif
