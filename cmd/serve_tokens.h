/* Bearer tokens of `sdc serve --token-file F`: the file holds one token a line (blank lines
 * and lines starting with '#' are skipped). A request carrying `Authorization: Bearer T`
 * with T one of them is authenticated. Tokens never appear in messages or logs. */
#ifndef SDC_CMD_SERVE_TOKENS_H
#define SDC_CMD_SERVE_TOKENS_H

#include "sdc.h"

/* A token's length bounds: short ones are guessable, long ones are mistakes (a key file). */
#define SDC_TOKEN_MIN 16
#define SDC_TOKEN_MAX 256

typedef struct sdc_tokens sdc_tokens;

/* Reads and checks the file (size, one well-formed token a line, at least one); the error
 * names the file and line, never the token. */
sdc_status sdc_tokens_load(const char *path, sdc_tokens **out);
/* Non-zero when an Authorization header value ("Bearer T", scheme in any case) carries one
 * of the tokens. Takes the same time whichever token matches, or none. */
int sdc_tokens_accept(const sdc_tokens *tokens, const char *authorization);
void sdc_tokens_free(sdc_tokens *tokens);

#endif
