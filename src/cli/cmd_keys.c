/*
 * cmd_keys.c - placeholder until the command lands.
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_keys_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo keys: not implemented yet\n");
    return 1;
}
