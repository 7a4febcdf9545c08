/* `sdc -r PICTURE.png [--model-dir DIR] [options]`: render a picture again from its PNG
 * `parameters` (AUTOMATIC1111's or sdc's), finding its model, LoRAs and embeddings by hash. */
#ifndef SDC_CMD_RERENDER_H
#define SDC_CMD_RERENDER_H

/* Without -r: 0 and *out_argv NULL (argv is used as it is), or 2 for --model-dir alone.
 * With it: a new command line (argv[0], the picture's settings as options, then the
 * caller's options but -r and --model-dir) in *out_argc / *out_argv, 0; or 1 (a file not
 * found) / 2 (usage), the message printed. */
int sdc_rerender_expand(int argc, char **argv, int *out_argc, char ***out_argv);
void sdc_rerender_free(int argc, char **argv);

#endif
