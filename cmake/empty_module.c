/*
 * empty_module.c - the one source of a module that has only headers so far, so that the
 * build configures while the module is written. ISO C wants a translation unit to declare
 * something.
 */
typedef int kumo_empty_module_t;
