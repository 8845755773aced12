/*
 * main.c - the kumo binary: one table of commands, dispatched by name.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "codec/codec.h"

static const kumo_cli_command_t cli_commands[] = {
    {"init", kumo_cli_init_main, "create a node home: keys, config and genesis"},
    {"genesis", kumo_cli_genesis_main, "edit a node's genesis (add-account)"},
    {"node", kumo_cli_node_main, "run a node (node start)"},
    {"keys", kumo_cli_keys_main, "manage keys: add, list, show, export, import, delete"},
    {"tx", kumo_cli_tx_main, "sign and send transactions"},
    {"query", kumo_cli_query_main, "query chain state from a node"},
    {"testnet", kumo_cli_testnet_main, "run a local multi-validator network: init, start, stop"},
    {"provider", kumo_cli_provider_main, "run a datacenter: init, register, start"},
    {"deploy", kumo_cli_deploy_main, "deploy a stack file: create, update, status, logs, close"},
    {"stack", kumo_cli_stack_main, "stack files: convert an Akash SDL file to a kumo stack"},
    {"demo", kumo_cli_demo_main, "run the scripted market scenario on a real store"},
    {"version", kumo_cli_version_main, "print the version"},
};

static void cli_usage(FILE *out)
{
    fprintf(out, "usage: kumo <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
        fprintf(out, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
    }
    fprintf(out, "  %-10s %s\n", "help", "show this help");
    fprintf(out, "\nRun 'kumo <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    /* A peer closing a connection (TLS writes raise SIGPIPE) or a reader closing our output
     * is an error to report or an end, never a silent death with exit 141. */
    (void)signal(SIGPIPE, SIG_IGN);
    kumo_codec_json_wipe_on_free();
    /* Progress goes out line by line into a pipe or a log too (a management workload's log
     * keeps what a command said before it was stopped, a tx hash included). */
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        cli_usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
        if (strcmp(argv[1], cli_commands[i].name) == 0) {
            return cli_commands[i].main_fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "kumo: unknown command '%s'\n\n", argv[1]);
    cli_usage(stderr);
    return 2;
}
