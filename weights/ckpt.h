/* Legacy PyTorch checkpoints (.ckpt / .pt): the zip format torch.save writes since 1.6,
 *
 *   <folder>/data.pkl     the pickled object (a state dict, or a dict holding one)
 *   <folder>/data/<key>   the bytes of each storage, usually stored uncompressed
 *   <folder>/byteorder    "little" (absent in older files)
 *
 * read safely: the pickle by the restricted reader of pickle.h (nothing is executed), the zip
 * by libzip (zip_archive.h). The tensors of the state dict come out as an sdc_safetensors
 * table, so every layout reads a .ckpt exactly like a .safetensors file; their data point
 * into the mapped file (stored members) without copying.
 *
 * The state dict is the top-level dict, or the dict under its "state_dict" key (followed
 * while there is one, as Lightning and training scripts nest it), or under
 * "string_to_param" (AUTOMATIC1111's textual-inversion .pt: one tensor named "*"). Its non-tensor values
 * are skipped. Tensors must be contiguous views (every real checkpoint's are). */
#ifndef SDC_WEIGHTS_CKPT_H
#define SDC_WEIGHTS_CKPT_H

#include "sdc.h"
#include "weights/safetensors.h"

/* Largest data.pkl read (a full SD training checkpoint's is a few MB). */
#define SDC_CKPT_MAX_PICKLE (64u << 20)

/* 1 when the file starts like a PyTorch checkpoint: a zip archive, or a bare pickle (the
 * pre-1.6 format, which sdc_ckpt_open refuses with a message saying so). */
int sdc_ckpt_sniff(const char *path);

/* Opens the checkpoint's state dict as a table of tensors. A refused global, a malformed
 * pickle or zip, a tensor outside its storage: an error naming the file and the problem. */
sdc_status sdc_ckpt_open(const char *path, sdc_safetensors **out);

#endif
