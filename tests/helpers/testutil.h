/*
 * testutil.h - shared test helpers: cmocka includes, temp dirs, and helpers tests reuse.
 */
#ifndef KUMO_TESTS_TESTUTIL_H
#define KUMO_TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Creates a fresh temp directory (mkdtemp under $TMPDIR or /tmp); returns a malloc'd path. */
char *kumo_test_tmpdir_make(const char *tag);
/* Removes a directory tree made by kumo_test_tmpdir_make and frees the path. */
void kumo_test_tmpdir_remove(char *path);

#endif
