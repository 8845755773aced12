/*
 * cmd_node.c - placeholder until the command lands.
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_init_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo init: not implemented yet\n");
    return 1;
}

int kumo_cli_node_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo node: not implemented yet\n");
    return 1;
}

int kumo_cli_genesis_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo genesis: not implemented yet\n");
    return 1;
}
