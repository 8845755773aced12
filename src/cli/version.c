/*
 * version.c - `kumo version`.
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_version_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("kumo %s\n", KUMO_VERSION);
    return 0;
}
