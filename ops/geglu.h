/* GEGLU gate of the transformer feed-forward (diffusers GEGLU, LDM GEGLU): the projection
 * holds the value in its first half and the gate in its second half. */
#ifndef SDC_OPS_GEGLU_H
#define SDC_OPS_GEGLU_H

/* y[r, i] = x[r, i] * gelu(x[r, n + i]) for x [rows, 2n], y [rows, n]; gelu is the exact
 * (erf) form. y must not alias x. */
void sdc_geglu(float *y, const float *x, int rows, int n);

#endif
