/* Internals of sdc_taesd shared by taesd_load.c (files, validation) and taesd.c (passes). */
#ifndef SDC_VAE_TAESD_IMPL_H
#define SDC_VAE_TAESD_IMPL_H

#include "ops/arena.h"
#include "ops/layer.h"
#include "vae/taesd.h"
#include "weights/safetensors.h"

/* Most layer indices per half (real files: 19 in the decoder, 15 in the encoder). */
#define SDC_TAESD_MAX_OPS 64
/* Largest channel count accepted (real files: 64). */
#define SDC_TAESD_MAX_CHANNELS 4096
/* Down / up steps of every TAESD: 8 pixels per latent cell. */
#define SDC_TAESD_LEVELS 3
/* Largest latent side accepted (16384 pixels), as the full VAE. */
#define SDC_TAESD_MAX_LATENT_SIDE 2048

/* One layer index of a half: a conv or a Block. */
typedef struct sdc_taesd_op {
    int block;          /* 1: Block (conv[0..2] = N.conv.0/2/4); 0: one conv (conv[0]) */
    int resample;       /* conv: decoder: nearest 2x before it; encoder: stride 2 */
    int relu;           /* conv: ReLU after it (the decoder's first conv) */
    sdc_layer conv[3];  /* [out, in * 3 * 3] each */
} sdc_taesd_op;

/* A decoder or an encoder. */
typedef struct sdc_taesd_net {
    int n_ops;
    sdc_taesd_op ops[SDC_TAESD_MAX_OPS];
    int in_channels, out_channels, max_channels;
    char *path; /* the file it came from (owned) */
} sdc_taesd_net;

struct sdc_taesd {
    sdc_safetensors *files[2]; /* the mapped file(s) the weights are views of; [1] may be NULL */
    int has_decoder, has_encoder;
    sdc_taesd_net dec, enc;
    sdc_arena arena;
};

#endif
