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
#ifdef KUMO_TEST_HOOKS
    printf("test hooks: on (not for production)\n");
#endif
    return 0;
}
