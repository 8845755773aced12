/*
 * cmd_tx.c - placeholder until the command lands.
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_tx_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo tx: not implemented yet\n");
    return 1;
}
