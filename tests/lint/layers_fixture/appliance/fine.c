/* The composition root may include everything: allowed. */
#include "faii/registry.h"
#include "faii/ledger_store.h"
