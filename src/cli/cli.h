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

int kumo_cli_demo_main(int argc, char **argv);
int kumo_cli_version_main(int argc, char **argv);

#endif
