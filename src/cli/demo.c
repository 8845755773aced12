/*
 * demo.c - `kumo demo`: placeholder until the market scenario lands.
 */
#include <stdio.h>

#include "cli/cli.h"

int kumo_cli_demo_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("demo: not yet\n");
    return 0;
}
