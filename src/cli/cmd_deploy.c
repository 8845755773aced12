/*
 * cmd_deploy.c - kumo deploy (being written; see docs/design.md).
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_deploy_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kumo deploy: not available in this build yet\n");
    return 1;
}
