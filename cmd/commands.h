/* The subcommands; each returns the process exit status. argv[0] is the subcommand name. */
#ifndef SDC_CMD_COMMANDS_H
#define SDC_CMD_COMMANDS_H

int sdc_cmd_generate(int argc, char **argv);
int sdc_cmd_batch(int argc, char **argv);
int sdc_cmd_info(int argc, char **argv);
int sdc_cmd_metadata(int argc, char **argv);
int sdc_cmd_convert(int argc, char **argv);
int sdc_cmd_serve(int argc, char **argv);

#endif
