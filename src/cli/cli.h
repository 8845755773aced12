/*
 * cli.h - the kumo command table and the command entry points.
 * Exit codes: 0 success, 1 failure, 2 usage error.
 */
#ifndef KUMO_CLI_CLI_H
#define KUMO_CLI_CLI_H

#define KUMO_VERSION "0.1.0"

typedef struct kumo_cli_command {
    const char *name;
    int (*main_fn)(int argc, char **argv);
    const char *summary;
} kumo_cli_command_t;

#include <stddef.h>

int kumo_cli_demo_main(int argc, char **argv);
int kumo_cli_init_main(int argc, char **argv);     /* cmd_node.c */
int kumo_cli_node_main(int argc, char **argv);     /* cmd_node.c */
int kumo_cli_genesis_main(int argc, char **argv);  /* cmd_node.c */
int kumo_cli_keys_main(int argc, char **argv);     /* cmd_keys.c */
int kumo_cli_tx_main(int argc, char **argv);       /* cmd_tx.c */
int kumo_cli_query_main(int argc, char **argv);    /* cmd_query.c */
int kumo_cli_testnet_main(int argc, char **argv);  /* cmd_testnet.c */
int kumo_cli_provider_main(int argc, char **argv); /* cmd_provider.c */
int kumo_cli_deploy_main(int argc, char **argv);   /* cmd_deploy.c */
int kumo_cli_stack_main(int argc, char **argv);    /* cmd_stack.c */

/* Uses dir (created 0700 if missing) or, when dir is NULL, a new temp dir named after tag;
 * writes the path to out. Prints the reason and returns -1 on failure. */
int cli_dir_prepare(const char *dir, const char *tag, char *out, size_t out_cap);
/* Removes a directory tree (best effort). */
void cli_dir_remove(const char *dir);
int kumo_cli_version_main(int argc, char **argv);

#endif
