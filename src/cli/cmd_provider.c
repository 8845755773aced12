/*
 * cmd_provider.c - kumo provider (being written; see docs/design.md).
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_provider_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo provider: not available in this build yet\n");
    return 1;
}
