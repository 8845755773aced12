/*
 * cli_client.c - the CLI's calls to the node API (docs/api.md) through the node client
 * (src/client): one handle per call for the URL given by --node, answers bounded and decoded
 * there. Blocking calls are fine here: the CLI has no event loop.
 */
#include <stdio.h>

#include "cli/cli_int.h"

int cli_node_open(const cli_args_t *a, kumo_client_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(a != NULL && a->node != NULL);
    return kumo_client_open(a->node, NULL, out, err);
}

int cli_http_get(const cli_args_t *a, const char *path, json_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    kumo_client_t *c = NULL;
    KUMO_GUARD(cli_node_open(a, &c, err));
    int rc = kumo_client_get(c, path, out, err);
    kumo_client_close(c);
    return rc;
}

int cli_http_post(
    const cli_args_t *a, const char *path, const json_t *body, json_t **out, kumo_err_ctx_t *err)
{
    kumo_client_t *c = NULL;
    KUMO_GUARD(cli_node_open(a, &c, err));
    int rc = kumo_client_post(c, path, body, out, err);
    kumo_client_close(c);
    return rc;
}
