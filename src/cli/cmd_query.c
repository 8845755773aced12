/*
 * cmd_query.c - placeholder until the command lands.
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_query_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo query: not implemented yet\n");
    return 1;
}
