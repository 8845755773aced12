/*
 * cmd_testnet.c - kumo testnet (being written; see docs/design.md).
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_testnet_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo testnet: not available in this build yet\n");
    return 1;
}
