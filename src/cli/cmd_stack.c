/*
 * cmd_stack.c - `kumo stack convert SDL.yml [-o OUT.yml]`: the kumo stack an Akash SDL file
 * maps to (docs/stack.md "Akash SDL files"), with a warning per construct that is dropped;
 * `kumo deploy` does the same conversion on its own when given an Akash SDL file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/deploy_int.h"
#include "file/file.h"

static const int stack_convert_opts[] = {CLI_OPT_REGION,      CLI_OPT_PRICE, CLI_OPT_DEPOSIT,
                                         CLI_OPT_WAIT_BLOCKS, CLI_OPT_OUT,   CLI_OPT_END};

static int stack_opts(const cli_args_t *a, kumo_sdl_akash_opts_t *o, kumo_err_ctx_t *err)
{
    memset(o, 0, sizeof(*o));
    o->region = a->region;
    KUMO_ENSURE(a->price_count <= 1u, err, KUMO_EINVAL,
                "--price is given once (ukumo per unit "
                "per block, for every unit)");
    if (a->price_count == 1u) {
        KUMO_GUARD(cli_amount_parse(a->prices[0], &o->price_ukumo, err));
        KUMO_ENSURE(o->price_ukumo > 0, err, KUMO_EINVAL, "--price is 0");
    }
    o->deposit_ukumo = a->deposit_set ? a->deposit_ukumo : 0;
    KUMO_ENSURE(!a->deposit_set || a->deposit_ukumo > 0, err, KUMO_EINVAL, "--deposit is 0");
    o->wait_blocks = a->wait_blocks;
    o->wait_blocks_set = a->wait_blocks_set;
    return 0;
}

/* The warnings as a JSON array of lines. */
static json_t *stack_notes_json(const kumo_buf_t *notes)
{
    json_t *arr = json_array();
    const char *p = (const char *)notes->ptr;
    const char *end = p + notes->len;
    while (arr != NULL && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        (void)json_array_append_new(arr, json_stringn(p, len));
        p += len + 1u;
    }
    return arr;
}

static void
stack_convert_print(const cli_args_t *a, const kumo_buf_t *text, const kumo_buf_t *notes)
{
    if (a->output == CLI_OUTPUT_JSON) {
        json_t *j = json_object();
        (void)json_object_set_new(j, "warnings", stack_notes_json(notes));
        if (a->out != NULL) {
            (void)json_object_set_new(j, "out", json_string(a->out));
        } else {
            (void)json_object_set_new(j, "stack", json_stringn((const char *)text->ptr, text->len));
        }
        cli_json_print(j, stdout);
        json_decref(j);
        return;
    }
    fprintf(stderr, "%.*s", (int)notes->len, notes->len > 0 ? (const char *)notes->ptr : "");
    if (a->out == NULL) {
        fwrite(text->ptr, 1, text->len, stdout);
    } else {
        printf("wrote %s\n", a->out);
    }
}

/* Converts, then parses the result as kumo does, so a file that converts also deploys. */
static int
stack_convert_do(const cli_args_t *a, kumo_buf_t *text, kumo_buf_t *notes, kumo_err_ctx_t *err)
{
    kumo_sdl_akash_opts_t o;
    KUMO_GUARD(stack_opts(a, &o, err));
    kumo_buf_t yaml;
    KUMO_GUARD(deploy_stack_file_read(a->pos[0], &yaml, err));
    int rc = kumo_sdl_akash_detect(kumo_buf_bytes(&yaml))
                 ? 0
                 : kumo_err_set(err, KUMO_EINVAL,
                                "%s: not an Akash SDL file (no top-level services)", a->pos[0]);
    if (rc == 0) {
        rc = deploy_stack_akash_convert(a->pos[0], kumo_buf_bytes(&yaml), &o, text, notes, err);
    }
    kumo_buf_free(&yaml);
    KUMO_GUARD(rc);
    char name[CLI_PATH_BYTES + 32u];
    (void)snprintf(name, sizeof(name), "%s (as kumo stack)", a->pos[0]);
    kumo_sdl_stack_t *stack = NULL;
    rc = kumo_sdl_stack_parse(kumo_buf_bytes(text), name, &stack, err);
    kumo_sdl_stack_free(stack);
    if (rc == 0 && a->out != NULL) {
        rc = kumo_file_write(a->out, kumo_buf_bytes(text), 0644, err);
    }
    if (rc < 0) {
        kumo_buf_free(text);
        kumo_buf_free(notes);
    }
    return rc;
}

static int stack_convert_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    kumo_buf_t text;
    kumo_buf_t notes;
    if (stack_convert_do(a, &text, &notes, &err) < 0) {
        return cli_fail("stack convert", &err);
    }
    stack_convert_print(a, &text, &notes);
    kumo_buf_free(&text);
    kumo_buf_free(&notes);
    return 0;
}

static const cli_sub_t stack_subs[] = {
    {NULL, "convert",
     "SDL.yml [-o OUT.yml] [--region R] [--price AMOUNT] [--deposit AMOUNT] "
     "[--wait-blocks N]",
     "write the kumo stack an Akash SDL v2 file maps to (stdout, or -o FILE) and print a warning "
     "per construct it drops; --region for placements without a region attribute, --price for "
     "every unit instead of the pricing (1 uakt = 1 ukumo), --deposit (default 5000000 ukumo), "
     "--wait-blocks (default 3)",
     "kumo stack convert deploy.yml -o stack.yml --region us-east", stack_convert_opts, 1, 1,
     stack_convert_run},
};

int kumo_cli_stack_main(int argc, char **argv)
{
    char **args = calloc((size_t)argc + 1u, sizeof(char *));
    if (args == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (int i = 0; i < argc; i++) {
        args[i] = strcmp(argv[i], "-o") == 0 ? (char *)(uintptr_t) "--out" : argv[i];
    }
    int rc = cli_dispatch("stack", "stack files: convert Akash SDL to a kumo stack", stack_subs,
                          KUMO_ARRAY_COUNT(stack_subs), argc, args);
    free(args);
    return rc;
}
